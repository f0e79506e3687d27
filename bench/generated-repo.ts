// The benchmark repo: N services × 3 secrets files × 12 keys; even services in OpenBao, odd ones in sops
// yaml files made by the real sops binary (or, with backend 'vault', every service in OpenBao, for
// bench/agent; with 'sops', every service in sops, for bench/sops-scale). Key names are zero-padded (F0_KEY_00…F0_KEY_11) so that their sorted order, the order of a
// Go template's `range` over a map, is the example's order. Shared by all benches.
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pLimit from 'p-limit';
import { startOpenBao, type OpenBaoServer } from '../test/support/openbao.js';
import { newAgeKey, writeSopsFile, type TestAgeKey } from '../test/support/sops.js';

export const FILES_PER_SERVICE = 3;
export const KEYS_PER_FILE = 12;

export interface GeneratedFile {
  service: string;
  name: string;
  /** Absolute target path (what compose reads). */
  target: string;
  exampleKeys: string[];
  /** The stored values (bench-only fake secrets), to check what a render wrote. */
  values: Record<string, string>;
  vaultPath?: string;
  sopsFile?: string;
}

export interface GeneratedRepo {
  root: string;
  files: GeneratedFile[];
}

export type BenchBackend = 'mixed' | 'vault' | 'sops';

export async function generateBenchRepo(services: number, bao: OpenBaoServer, key: TestAgeKey, backend: BenchBackend = 'mixed'): Promise<GeneratedRepo> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'coffre-bench-'));
  await writeFile(path.join(root, '.gitignore'), '*.secrets\n');
  await promisify(execFile)('git', ['init', '-q', root]);
  const files: GeneratedFile[] = [];
  const setup = pLimit(4);
  const tasks: Array<Promise<void>> = [];
  for (let s = 0; s < services; s++) {
    const service = `svc${String(s).padStart(3, '0')}`;
    const useSops = backend === 'sops' || (backend === 'mixed' && s % 2 === 1);
    const secretsDir = path.join(root, service, 'secrets');
    await mkdir(secretsDir, { recursive: true });
    const names = Array.from({ length: FILES_PER_SERVICE }, (_, f) => `f${f}`);
    await writeFile(
      path.join(root, service, 'docker-compose.yml'),
      `services:\n  app:\n    image: app\n    env_file:\n${names.map((n) => `      - ./secrets/${n}.secrets\n`).join('')}`,
    );
    for (const name of names) {
      const exampleKeys = Array.from({ length: KEYS_PER_FILE }, (_, k) => `${name.toUpperCase()}_KEY_${String(k).padStart(2, '0')}`);
      await writeFile(path.join(secretsDir, `${name}.secrets.example`), exampleKeys.map((k) => `${k}=\n`).join(''));
      const values = Object.fromEntries(exampleKeys.map((k, i) => [k, `value-${service}-${name}-${i}-${'x'.repeat(24)}`]));
      const target = path.join(secretsDir, `${name}.secrets`);
      if (useSops) {
        const sopsFile = path.join(secretsDir, `${name}.secrets.sops.yaml`);
        tasks.push(setup(() => writeSopsFile(sopsFile, Object.entries(values).map(([k, v]) => `${k}: ${v}\n`).join(''), key)));
        files.push({ service, name, target, exampleKeys, values, sopsFile });
      } else {
        const vaultPath = `${service}/${name}`;
        tasks.push(
          setup(async () => {
            const response = await fetch(`${bao.address}/v1/secret/data/${vaultPath}`, {
              method: 'POST',
              headers: { 'X-Vault-Token': bao.rootToken, 'Content-Type': 'application/json' },
              body: JSON.stringify({ data: values }),
            });
            if (!response.ok) throw new Error(`seeding ${vaultPath}: HTTP ${response.status}`);
          }),
        );
        files.push({ service, name, target, exampleKeys, values, vaultPath });
      }
    }
  }
  await Promise.all(tasks);
  return { root, files };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** A generated repo with its own OpenBao and age key, and the environment coffre needs to read it. */
export interface BenchRepo extends GeneratedRepo {
  bao: OpenBaoServer;
  key: TestAgeKey;
  env: { VAULT_ADDR: string; VAULT_TOKEN: string; SOPS_AGE_KEY: string };
  /** Stops OpenBao and removes the repo. */
  close(): Promise<void>;
}

export async function openBenchRepo(services: number, backend: BenchBackend = 'mixed'): Promise<BenchRepo> {
  const bao = await startOpenBao();
  try {
    const key = await newAgeKey();
    const repo = await generateBenchRepo(services, bao, key, backend);
    return {
      ...repo,
      bao,
      key,
      env: { VAULT_ADDR: bao.address, VAULT_TOKEN: bao.rootToken, SOPS_AGE_KEY: key.identity },
      async close() {
        await bao.stop();
        await rm(repo.root, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await bao.stop();
    throw error;
  }
}

/**
 * A new repo holding the first `services` services of `repo` (copied: same files, same OpenBao paths, same
 * sops files), so that one seeded OpenBao serves several sizes. Remove its root when done.
 */
export async function subsetRepo(repo: GeneratedRepo, services: number): Promise<GeneratedRepo> {
  const serviceNames = [...new Set(repo.files.map((f) => f.service))].slice(0, services);
  const keep = new Set(serviceNames);
  const root = await mkdtemp(path.join(os.tmpdir(), 'coffre-bench-'));
  await promisify(execFile)('git', ['init', '-q', root]);
  for (const entry of await readdir(repo.root)) {
    if (entry === '.git') continue;
    if (/^svc\d+$/.test(entry) && !keep.has(entry)) continue;
    await cp(path.join(repo.root, entry), path.join(root, entry), { recursive: true });
  }
  const files = repo.files
    .filter((f) => keep.has(f.service))
    .map((f) => ({
      ...f,
      target: path.join(root, path.relative(repo.root, f.target)),
      ...(f.sopsFile ? { sopsFile: path.join(root, path.relative(repo.root, f.sopsFile)) } : {}),
    }));
  return { root, files };
}

/** What `coffre render` writes for a generated file (compose format, example order; the values need no escaping). */
export function expectedEnvFile(file: GeneratedFile): string {
  return file.exampleKeys.map((k) => `${k}="${file.values[k]}"\n`).join('');
}
