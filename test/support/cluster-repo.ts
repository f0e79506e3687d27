// An infra repo whose every secrets file lives in an OpenBao cluster (test/support/openbao-cluster.ts):
// N services × F files × K keys below `secret/<prefix>/`, a coffre.yaml listing the nodes (vault.addresses),
// its own git repo ignoring the rendered targets. Shared by test/sources/cluster.test.ts and bench/cluster.ts.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pLimit from 'p-limit';
import { vaultHttp } from './openbao.js';

export interface ClusterRepoFile {
  service: string;
  name: string;
  /** Absolute target path. */
  target: string;
  /** KV path below the mount `secret`. */
  vaultPath: string;
  values: Record<string, string>;
}

export interface ClusterRepo {
  root: string;
  prefix: string;
  files: ClusterRepoFile[];
  services: string[];
}

export interface ClusterRepoOptions {
  /** Node addresses written to coffre.yaml's vault.addresses (may include proxies). */
  addresses: string[];
  /** Where the seed values are written (an active node's address) with `token`. */
  seedAddress: string;
  token: string;
  services: number;
  filesPerService?: number;
  keysPerFile?: number;
  /** vault.failoverMs in coffre.yaml, when given. */
  failoverMs?: number;
  concurrency?: number;
  /** An existing folder to use (else a new temp folder). */
  root?: string;
}

export async function makeClusterRepo(options: ClusterRepoOptions): Promise<ClusterRepo> {
  const root = options.root ?? (await mkdtemp(path.join(os.tmpdir(), 'coffre-cluster-repo-')));
  const prefix = `c-${randomBytes(5).toString('hex')}`;
  const filesPer = options.filesPerService ?? 2;
  const keysPer = options.keysPerFile ?? 4;
  await writeFile(path.join(root, '.gitignore'), '*.secrets\n');
  await promisify(execFile)('git', ['init', '-q', root]);
  await writeFile(
    path.join(root, 'coffre.yaml'),
    [
      'version: 1',
      'vault:',
      '  addresses:',
      ...options.addresses.map((a) => `    - ${a}`),
      `  prefix: ${prefix}`,
      ...(options.failoverMs !== undefined ? [`  failoverMs: ${options.failoverMs}`] : []),
      ...(options.concurrency !== undefined ? [`  concurrency: ${options.concurrency}`] : []),
      '',
    ].join('\n'),
  );
  const files: ClusterRepoFile[] = [];
  const services: string[] = [];
  const seed = pLimit(8);
  const writes: Array<Promise<void>> = [];
  for (let s = 0; s < options.services; s++) {
    const service = `svc${String(s).padStart(3, '0')}`;
    services.push(service);
    const secretsDir = path.join(root, service, 'secrets');
    await mkdir(secretsDir, { recursive: true });
    const names = Array.from({ length: filesPer }, (_, f) => `f${f}`);
    await writeFile(
      path.join(root, service, 'docker-compose.yml'),
      `services:\n  app:\n    image: app\n    env_file:\n${names.map((n) => `      - ./secrets/${n}.secrets\n`).join('')}`,
    );
    for (const name of names) {
      const keys = Array.from({ length: keysPer }, (_, k) => `${name.toUpperCase()}_KEY_${k}`);
      await writeFile(path.join(secretsDir, `${name}.secrets.example`), keys.map((k) => `${k}=\n`).join(''));
      const values = Object.fromEntries(keys.map((k) => [k, `v${randomBytes(9).toString('hex')}`]));
      const vaultPath = `${prefix}/${service}/${name}`;
      writes.push(
        seed(async () => {
          const r = await vaultHttp(options.seedAddress, options.token, 'POST', `secret/data/${vaultPath}`, { data: values });
          if (r.status !== 200) throw new Error(`seeding ${vaultPath}: HTTP ${r.status}`);
        }),
      );
      files.push({ service, name, target: path.join(secretsDir, `${name}.secrets`), vaultPath, values });
    }
  }
  await Promise.all(writes);
  return { root, prefix, files, services };
}
