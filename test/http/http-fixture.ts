// Test fixture for the HTTP API: an infra repo (t.testdir, its own git repo ignoring *.secrets) whose secrets
// live in a real OpenBao (read with a coffre-host token) and in a sops file made by the real sops binary,
// API tokens for every role, and a logger whose lines are captured as text.
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppDeps } from '../../src/http/app.js';
import { createLogger } from '../../src/http/logger.js';
import { createTokenRegistry, tokenDigest, type Role } from '../../src/http/token-registry.js';
import { openWorkspace } from '../../src/use-cases/workspace.js';
import { sharedOpenBao, type SharedOpenBao } from '../support/openbao.js';
import { newAgeKey, writeSopsFile } from '../support/sops.js';

const run = promisify(execFile);

/** The tap test object as far as the fixture needs it. */
interface TestLike {
  testdir(fixture?: unknown): string;
}

export interface HttpFixture {
  dir: string;
  bao: SharedOpenBao;
  /** Environment the workspace is opened with (Vault address + coffre-host token, age identity). */
  env: Record<string, string>;
  /** Values planted in the stores: none may ever appear in an answer or a log line. */
  canaries: string[];
  /** Bearer tokens by name: check, render, padRender (render scoped to `pad`), admin. */
  tokens: Record<'check' | 'render' | 'padRender' | 'admin', string>;
  /** Everything logged so far. */
  logs(): string;
  /** A fresh app over the fixture (extra deps override the defaults). */
  app(overrides?: Partial<AppDeps>): FastifyInstance;
}

function canary(label: string): string {
  return `canary-${label}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
}

export async function makeHttpFixture(t: TestLike): Promise<HttpFixture> {
  const bao = await sharedOpenBao(t);
  const key = await newAgeKey();
  const canaries = { dbUser: canary('db-user'), dbPass: canary('db-pass'), padToken: canary('pad-token'), wikiKey: canary('wiki-key') };
  const dir = t.testdir({
    '.gitignore': '*.secrets\n',
    'coffre.yaml': `version: 1\nvault:\n  prefix: ${bao.prefix}\n`,
    chat: {
      'docker-compose.yml': 'services:\n  db:\n    image: postgres\n    env_file: ./secrets/db.secrets\n',
      secrets: { 'db.secrets.example': 'DB_USER=\nDB_PASS=changeme\n' },
    },
    pad: {
      'docker-compose.yml': 'services:\n  pad:\n    image: pad\n    env_file: [./secrets/pad.secrets]\n',
      secrets: { 'pad.secrets.example': 'PAD_TOKEN=\n' },
    },
    wiki: {
      'docker-compose.yml': 'services:\n  wiki:\n    image: wiki\n    env_file: ./secrets/wiki.secrets\n',
      secrets: { 'wiki.secrets.example': 'WIKI_KEY=\nWIKI_MISSING=\n' },
    },
  });
  await run('git', ['init', '--quiet', dir]);
  await mkdir(path.join(dir, 'pad', 'secrets'), { recursive: true });
  await writeSopsFile(path.join(dir, 'pad', 'secrets', 'pad.secrets.sops.yaml'), `PAD_TOKEN: ${canaries.padToken}\n`, key);
  for (const [secret, data] of [
    ['chat/db', { DB_USER: canaries.dbUser, DB_PASS: canaries.dbPass }],
    ['wiki/wiki', { WIKI_KEY: canaries.wikiKey }],
  ] as const) {
    const put = await bao.vaultHttp('POST', `secret/data/${bao.prefix}/${secret}`, { data });
    if (put.status !== 200) throw new Error(`OpenBao write of ${secret} answered ${put.status}`);
  }
  const vaultToken = await bao.tokenWithPolicies(['coffre-host']);
  const env = { VAULT_ADDR: bao.address, VAULT_TOKEN: vaultToken, SOPS_AGE_KEY: key.identity };

  const tokens = { check: mint(), render: mint(), padRender: mint(), admin: mint() };
  const entries: Array<{ id: string; sha256: string; role: Role; services: string[] }> = [
    { id: 'ci', sha256: tokenDigest(tokens.check), role: 'check', services: ['**'] },
    { id: 'deployer', sha256: tokenDigest(tokens.render), role: 'render', services: ['**'] },
    { id: 'pad-host', sha256: tokenDigest(tokens.padRender), role: 'render', services: ['pad'] },
    { id: 'ops', sha256: tokenDigest(tokens.admin), role: 'admin', services: ['**'] },
  ];
  const captured: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void captured.push(line) } });
  return {
    dir,
    bao,
    env,
    canaries: Object.values(canaries),
    tokens,
    logs: () => captured.join(''),
    app: (overrides = {}) =>
      buildApp({
        openWorkspace: (scope) => openWorkspace({ root: dir, env, ...(scope?.services ? { services: scope.services } : {}) }),
        logger,
        tokens: createTokenRegistry(entries),
        ...overrides,
      }),
  };
}

function mint(): string {
  return `coffre_test_${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
}

/** An Authorization header for a token. */
export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}
