// rotate / set / versions / rollback on a real OpenBao with tokens from policies/*.hcl: check-and-set writes,
// the concurrent-rotation race, least privilege, value rules (example keys, generation defaults, stdin), the
// audit line, and the canary rule: no planted or generated value in any output (except --show on a TTY).
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import t from 'tap';
import { exitCodeFor, isCoffreError } from '../../src/errors.js';
import { runRotate } from '../../src/use-cases/rotate.js';
import { openWorkspace } from '../../src/use-cases/workspace.js';
import { projectRoot } from '../support/tools.js';
import { canary, makeRotateFixture } from './rotate-fixture.js';

const fixture = await makeRotateFixture(t);
const { chatPath } = fixture;
const generated: string[] = [];

function auditOf(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('audit: '))
    .map((l) => JSON.parse(l.slice('audit: '.length)));
}

t.test('rotate --generate writes a new version with check-and-set, keeps the other keys, and uses the example @generate spec', async (t) => {
  const before = await fixture.vaultData(chatPath);
  const result = await fixture.coffre(['rotate', 'chat', 'db', 'DB_PASS', '--generate']);
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, `rotated DB_PASS of chat/db (vault secret/${chatPath}): version ${before.version} → ${before.version + 1}`);
  t.match(result.stdout, 'value: generated (alnum, 32 characters), not shown');
  const after = await fixture.vaultData(chatPath);
  generated.push(after.data.DB_PASS!);
  t.equal(after.version, before.version + 1);
  t.equal(after.data.DB_USER, fixture.canaries.dbUser, 'untouched key kept');
  t.match(after.data.DB_PASS, /^[A-Za-z0-9]{32}$/, 'alnum:32 by default');
  t.not(after.data.DB_PASS, before.data.DB_PASS);
  const [audit] = auditOf(result.stderr);
  t.match(audit, { action: 'rotate', who: 'tester', service: 'chat', file: 'db', key: 'DB_PASS', source: { kind: 'vault' }, oldVersion: before.version, newVersion: after.version, outcome: 'written' });

  const first = await fixture.coffre(['set', 'chat', 'secrets/db.secrets', 'API_KEY', '--generate', '--format', 'json']);
  t.equal(first.code, 0, first.stderr);
  const json = JSON.parse(first.stdout);
  t.match(json, { action: 'set', key: 'API_KEY', created: true, generated: { charset: 'base64url', length: 40 }, oldVersion: after.version, newVersion: after.version + 1 });
  const withKey = await fixture.vaultData(chatPath);
  generated.push(withKey.data.API_KEY!);
  t.match(withKey.data.API_KEY, /^[A-Za-z0-9_-]{40}$/, 'the example annotation @generate=base64url:40');

  const custom = await fixture.coffre(['rotate', 'chat', 'db', 'API_KEY', '--generate', '--charset', 'hex', '--length', '12']);
  t.equal(custom.code, 0, custom.stderr);
  const hex = (await fixture.vaultData(chatPath)).data.API_KEY!;
  generated.push(hex);
  t.match(hex, /^[0-9a-f]{12}$/, '--charset/--length override the example');
});

t.test('--value-stdin strips one trailing newline; empty values need @allow-empty; keys must be in the example', async (t) => {
  const value = canary('stdin');
  const result = await fixture.coffre(['rotate', 'chat', 'db', 'DB_USER', '--value-stdin'], { stdin: `${value}\n\n` });
  t.equal(result.code, 0, result.stderr);
  t.equal((await fixture.vaultData(chatPath)).data.DB_USER, `${value}\n`, 'only ONE trailing newline removed');
  generated.push(value);
  // (on exposed/db: chat/db's version count is part of later assertions)
  const crlf = await fixture.coffre(['rotate', 'exposed', 'db', 'DB_PASS', '--value-stdin'], { stdin: `${value}\r\n` });
  t.equal(crlf.code, 0, crlf.stderr);
  t.equal((await fixture.vaultData(`${fixture.bao.prefix}/exposed/db`)).data.DB_PASS, `${value}\r`, 'a trailing CRLF loses its LF only: the CR is part of the value');

  const empty = await fixture.coffre(['rotate', 'chat', 'db', 'DB_USER', '--value-stdin'], { stdin: '\n' });
  t.equal(empty.code, 2);
  t.match(empty.stderr, /refusing an empty value for DB_USER/);
  const allowed = await fixture.coffre(['set', 'chat', 'db', 'OPTIONAL_NOTE', '--value-stdin'], { stdin: '' });
  t.equal(allowed.code, 0, allowed.stderr);
  t.equal((await fixture.vaultData(chatPath)).data.OPTIONAL_NOTE, '', '@allow-empty lets an empty value through');

  const extra = await fixture.coffre(['set', 'chat', 'db', 'NOT_IN_EXAMPLE', '--value-stdin'], { stdin: 'x' });
  t.equal(extra.code, 2);
  t.match(extra.stderr, 'COFFRE_USAGE: chat/secrets/db.secrets.example: NOT_IN_EXAMPLE is not a key of chat/secrets/db.secrets.example');
  const forced = await fixture.coffre(['set', 'chat', 'db', 'NOT_IN_EXAMPLE', '--value-stdin', '--allow-extra'], { stdin: canary('extra') });
  t.equal(forced.code, 0, forced.stderr);

  const both = await fixture.coffre(['rotate', 'chat', 'db', 'DB_USER', '--generate', '--value-stdin'], { stdin: 'x' });
  t.equal(both.code, 2, 'exactly one of --generate / --value-stdin');
  const unknownFile = await fixture.coffre(['rotate', 'chat', 'nope', 'DB_USER', '--generate']);
  t.equal(unknownFile.code, 2);
  t.match(unknownFile.stderr, 'service chat has no secrets file "nope" (files: db (secrets/db.secrets))');
});

t.test('rotate needs an existing key, set a missing one; set creates a missing secret with cas 0', async (t) => {
  const missingKey = await fixture.coffre(['rotate', 'exposed', 'db', 'DB_PASS', '--generate']);
  t.equal(missingKey.code, 0, 'exposed/db exists with DB_PASS');
  await writeFile(path.join(fixture.dir, 'chat', 'secrets', 'cache.secrets.example'), 'CACHE_KEY=\n');
  await writeFile(
    path.join(fixture.dir, 'chat', 'docker-compose.yml'),
    'services:\n  db:\n    image: postgres\n    env_file: ./secrets/db.secrets\n  cache:\n    image: redis\n    env_file: ./secrets/cache.secrets\n',
  );
  const rotateMissing = await fixture.coffre(['rotate', 'chat', 'cache', 'CACHE_KEY', '--generate']);
  t.equal(rotateMissing.code, 2);
  t.match(rotateMissing.stderr, `secret/${fixture.bao.prefix}/chat/cache does not exist yet: give CACHE_KEY its first value with \`coffre set\``);
  const created = await fixture.coffre(['set', 'chat', 'cache', 'CACHE_KEY', '--generate', '--format', 'json']);
  t.equal(created.code, 0, created.stderr);
  t.match(JSON.parse(created.stdout), { created: true, oldVersion: null, newVersion: 1 });
  generated.push((await fixture.vaultData(`${fixture.bao.prefix}/chat/cache`)).data.CACHE_KEY!);
  const again = await fixture.coffre(['set', 'chat', 'cache', 'CACHE_KEY', '--generate']);
  t.equal(again.code, 2);
  t.match(again.stderr, 'already has CACHE_KEY: use `coffre rotate` to replace it');
});

t.test('two concurrent rotations of one secret: exactly one wins, the other gets COFFRE_CONFLICT (exit 5), no update lost', async (t) => {
  const before = await fixture.vaultData(chatPath);
  const workspaces = await Promise.all([0, 1].map(() => openWorkspace({ root: fixture.dir, env: fixture.env })));
  t.teardown(() => workspaces.forEach((w) => w.close()));
  const ref = { kind: 'vault' as const, mount: 'secret', path: chatPath };
  // Both read the same version before either writes: the race is certain, not left to timing.
  for (const w of workspaces) t.equal((await w.vault!.readValues(ref))?.version, before.version);
  const values = [canary('racea'), canary('raceb')];
  const outcomes = await Promise.allSettled(
    workspaces.map((w, i) => runRotate(w, { service: 'chat', file: 'db', key: 'DB_PASS', value: { kind: 'value', value: values[i]! }, mode: 'rotate', who: 'race' })),
  );
  const won = outcomes.filter((o) => o.status === 'fulfilled');
  const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
  t.equal(won.length, 1, 'one rotation succeeds');
  t.equal(lost.length, 1, 'one rotation fails');
  t.ok(isCoffreError(lost[0]?.reason) && lost[0].reason.code === 'COFFRE_CONFLICT', 'the loser gets COFFRE_CONFLICT');
  t.equal(exitCodeFor(lost[0]?.reason), 5);
  t.notOk(String(lost[0]?.reason?.message).includes('canary'), 'the conflict message holds no value');
  const winner = outcomes.findIndex((o) => o.status === 'fulfilled');
  const after = await fixture.vaultData(chatPath);
  t.equal(after.version, before.version + 1);
  t.same(after.data, { ...before.data, DB_PASS: values[winner] }, "the winner's write plus every untouched key");
});

t.test('a coffre-host token cannot rotate (COFFRE_SOURCE_DENIED, exit 3); an admin token can', async (t) => {
  const hostToken = await fixture.bao.tokenWithPolicies(['coffre-host']);
  const before = await fixture.vaultData(chatPath);
  const denied = await fixture.coffre(['rotate', 'chat', 'db', 'DB_PASS', '--generate'], { env: { ...fixture.env, VAULT_TOKEN: hostToken } });
  t.equal(denied.code, 3);
  t.match(denied.stderr, /COFFRE_SOURCE_DENIED: .*write: permission denied \(403\)/);
  t.match(auditOf(denied.stderr)[0], { action: 'rotate', outcome: 'error', errorCode: 'COFFRE_SOURCE_DENIED', oldVersion: null, newVersion: null });
  t.equal((await fixture.vaultData(chatPath)).version, before.version, 'nothing written');
  const allowed = await fixture.coffre(['rotate', 'chat', 'db', 'DB_PASS', '--generate']);
  t.equal(allowed.code, 0, allowed.stderr);
  generated.push((await fixture.vaultData(chatPath)).data.DB_PASS!);
});

t.test('versions lists KV v2 versions with dates; rollback writes version N as a new version with check-and-set', async (t) => {
  const current = await fixture.vaultData(chatPath);
  const listed = await fixture.coffre(['versions', 'chat', 'db', '--format', 'json']);
  t.equal(listed.code, 0, listed.stderr);
  const report = JSON.parse(listed.stdout);
  t.equal(report.currentVersion, current.version);
  t.equal(report.versions.length, current.version);
  t.match(report.versions[0], { version: 1, createdTime: /^\d{4}-\d\d-\d\dT/, deletionTime: '', destroyed: false, current: false });
  t.match(report.versions.at(-1), { version: current.version, current: true });
  const text = await fixture.coffre(['versions', 'chat', 'db']);
  t.match(text.stdout, new RegExp(`current version ${current.version}\\n {2}\\* v${current.version} {2}\\d{4}-`));

  const rolled = await fixture.coffre(['rollback', 'chat', 'db', '--to', '1']);
  t.equal(rolled.code, 0, rolled.stderr);
  t.match(rolled.stdout, `rolled back chat/db (vault secret/${chatPath}): version ${current.version} → ${current.version + 1}`);
  const after = await fixture.vaultData(chatPath);
  t.same(after.data, { DB_USER: fixture.canaries.dbUser, DB_PASS: fixture.canaries.dbPass }, 'the data of version 1');
  t.equal(after.version, current.version + 1);
  t.match(auditOf(rolled.stderr)[0], { action: 'rollback', key: null, oldVersion: current.version, newVersion: current.version + 1, outcome: 'written' });

  const same = await fixture.coffre(['rollback', 'chat', 'db', '--to', String(after.version)]);
  t.equal(same.code, 2);
  t.match(same.stderr, `is already at version ${after.version}`);
  const none = await fixture.coffre(['rollback', 'chat', 'db', '--to', '999']);
  t.equal(none.code, 2);
  t.match(none.stderr, /has no version 999 \(kept versions: 1, 2, /);
  const noTo = await fixture.coffre(['rollback', 'chat', 'db']);
  t.equal(noTo.code, 2);

  const hostToken = await fixture.bao.tokenWithPolicies(['coffre-host']);
  const hostRollback = await fixture.coffre(['rollback', 'chat', 'db', '--to', '1'], { env: { ...fixture.env, VAULT_TOKEN: hostToken } });
  t.equal(hostRollback.code, 3, 'a host token cannot even read the metadata');
});

/** A Vault-backed service `<name>` (file `app`, example declaring PASS) whose secret holds `data` as stored JSON. */
async function typedService(name: string, versions: Record<string, unknown>[]): Promise<string> {
  await mkdir(path.join(fixture.dir, name, 'secrets'), { recursive: true });
  await writeFile(path.join(fixture.dir, name, 'docker-compose.yml'), 'services:\n  app:\n    image: app\n    env_file: ./secrets/app.secrets\n');
  await writeFile(path.join(fixture.dir, name, 'secrets', 'app.secrets.example'), 'PASS=\n');
  const secretPath = `${fixture.bao.prefix}/${name}/app`;
  for (const data of versions) {
    // Seeded through the HTTP API directly, so the stored JSON types are exactly these.
    const put = await fixture.bao.vaultHttp('POST', `secret/data/${secretPath}`, { data });
    if (put.status !== 200) throw new Error(`seeding ${secretPath} answered ${put.status}`);
  }
  return secretPath;
}

// BIG and TINY are as OpenBao keeps them (it stores numbers as float64): they must come back unchanged.
const FLAT_TYPED = { PORT: 5432, DEBUG: true, RATIO: 1.5, NULLV: null, PASS: 'x', ZERO: 0, OFF: false, BIG: 12345678901234567000, TINY: 1e-7 };
const TYPED = { ...FLAT_TYPED, NESTED: { list: [1, 'two', { deep: false }], empty: {} } };

t.test('rotate writes every other key back exactly as stored: numbers, booleans, null and nested values keep their JSON type', async (t) => {
  const cases = [
    { name: 'flat values of every JSON type', service: 'typed-flat', seed: FLAT_TYPED },
    { name: 'with a nested value (refused for rendering, kept on a write)', service: 'typed', seed: TYPED },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const secretPath = await typedService(c.service, [c.seed]);
      const value = canary('typed');
      generated.push(value);
      const result = await fixture.coffre(['rotate', c.service, 'app', 'PASS', '--value-stdin'], { stdin: `${value}\n` });
      t.equal(result.code, 0, result.stderr);
      const raw = await fixture.bao.vaultHttp('GET', `secret/data/${secretPath}`);
      t.equal(raw.body.data.metadata.version, 2);
      t.strictSame(raw.body.data.data, { ...c.seed, PASS: value }, 'only PASS changed; PORT is still 5432 (a number), DEBUG true, NULLV null');

      const added = await fixture.coffre(['set', c.service, 'app', 'NEW_KEY', '--value-stdin', '--allow-extra'], { stdin: 'plain' });
      t.equal(added.code, 0, added.stderr);
      const after = await fixture.bao.vaultHttp('GET', `secret/data/${secretPath}`);
      t.strictSame(after.body.data.data, { ...c.seed, PASS: value, NEW_KEY: 'plain' }, 'set of a new key keeps the types too');
    });
  }
});

t.test('rollback --to N writes version N\'s data as stored (deep, JSON-equal), not its env rendering', async (t) => {
  const later = { PORT: '6543', PASS: 'y', EXTRA: [true] };
  const cases = [
    { name: 'flat values of every JSON type', service: 'typed-rollback-flat', seed: FLAT_TYPED },
    { name: 'with a nested value', service: 'typed-rollback', seed: TYPED },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const secretPath = await typedService(c.service, [c.seed, later]);
      const rolled = await fixture.coffre(['rollback', c.service, 'app', '--to', '1']);
      t.equal(rolled.code, 0, rolled.stderr);
      const raw = await fixture.bao.vaultHttp('GET', `secret/data/${secretPath}`);
      t.equal(raw.body.data.metadata.version, 3);
      t.strictSame(raw.body.data.data, c.seed, 'version 3 holds exactly version 1\'s data');
      const back = await fixture.coffre(['rollback', c.service, 'app', '--to', '2']);
      t.equal(back.code, 0, back.stderr);
      t.strictSame((await fixture.bao.vaultHttp('GET', `secret/data/${secretPath}`)).body.data.data, later, 'and back to version 2');
    });
  }
});

t.test('the check-and-set version is the version of the data read: a write landing right after that read gives COFFRE_CONFLICT and survives', async (t) => {
  const secretPath = await typedService('raced', [{ PASS: 'x', OTHER: 'before' }]);
  const theirs = { PASS: 'x', OTHER: canary('theirs') };
  generated.push(theirs.OTHER);
  let interleaved = 0;
  // A relay to the real OpenBao that lets another writer in between coffre's read of the data and whatever
  // coffre sends next: the other write lands before coffre sees the answer of its read.
  const relay = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      void (async () => {
        const headers: Record<string, string> = {};
        for (const name of ['x-vault-token', 'x-vault-request', 'content-type']) {
          const value = request.headers[name];
          if (typeof value === 'string') headers[name] = value;
        }
        const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
        const upstream = await fetch(`${fixture.bao.address}${request.url}`, { method: request.method!, headers, ...(body ? { body } : {}) });
        const text = await upstream.text();
        if (request.method === 'GET' && request.url === `/v1/secret/data/${secretPath}` && interleaved === 0) {
          interleaved++;
          const put = await fixture.bao.vaultHttp('POST', `secret/data/${secretPath}`, { data: theirs });
          if (put.status !== 200) throw new Error(`the other writer got ${put.status}`);
        }
        response.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
        response.end(text);
      })().catch(() => response.destroy());
    });
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => (relay.closeAllConnections(), relay.close(() => resolve()))));
  const address = `http://127.0.0.1:${(relay.address() as { port: number }).port}`;

  const mine = canary('mine');
  generated.push(mine);
  const result = await fixture.coffre(['rotate', 'raced', 'app', 'PASS', '--value-stdin'], { stdin: mine, env: { ...fixture.env, VAULT_ADDR: address } });
  t.equal(interleaved, 1, 'the other write landed between coffre\'s read and its write');
  t.equal(result.code, 5, `COFFRE_CONFLICT exit code (got ${result.code})`);
  t.match(auditOf(result.stderr)[0], { action: 'rotate', outcome: 'error', errorCode: 'COFFRE_CONFLICT' });
  const raw = await fixture.bao.vaultHttp('GET', `secret/data/${secretPath}`);
  t.equal(raw.body.data.metadata.version, 2, 'no version after the other writer\'s');
  t.strictSame(raw.body.data.data, theirs, 'the other writer\'s data survives (no lost update)');
});

t.test('a KV v1 mount is refused for writes with a message that says why', async (t) => {
  const mount = `kv1-${fixture.bao.prefix}`;
  const enabled = await fixture.bao.vaultHttp('POST', `sys/mounts/${mount}`, { type: 'kv', options: { version: '1' } });
  t.equal(enabled.status, 204);
  t.teardown(() => fixture.bao.vaultHttp('DELETE', `sys/mounts/${mount}`));
  await writeFile(path.join(fixture.dir, 'coffre.yaml'), `version: 1\nvault:\n  prefix: ${fixture.bao.prefix}\n  mount: ${mount}\n`);
  t.teardown(() => writeFile(path.join(fixture.dir, 'coffre.yaml'), `version: 1\nvault:\n  prefix: ${fixture.bao.prefix}\n`));
  const result = await fixture.coffre(['set', 'exposed', 'db', 'DB_PASS', '--generate'], { env: { ...fixture.env, VAULT_TOKEN: fixture.bao.rootToken } });
  t.equal(result.code, 3);
  t.match(result.stderr, /COFFRE_SOURCE_WRONG_MOUNT: .*KV version 1, not KV v2/);
});

t.test('--show prints the new value only when stdout is a terminal', async (t) => {
  const notTty = await fixture.coffre(['rotate', 'chat', 'db', 'DB_PASS', '--generate', '--show']);
  t.equal(notTty.code, 0, notTty.stderr);
  const hidden = (await fixture.vaultData(chatPath)).data.DB_PASS!;
  generated.push(hidden);
  t.notOk(notTty.stdout.includes(hidden), 'not printed when stdout is not a TTY');
  t.match(notTty.stderr, '--show ignored: stdout is not a terminal');

  let stdout = '';
  const { runCli } = await import('../../src/cli/main.js');
  const code = await runCli(['-C', fixture.dir, 'rotate', 'chat', 'db', 'DB_PASS', '--generate', '--show'], {
    stdout: { write: (s: string) => (stdout += s), isTTY: true },
    stderr: { write: () => true },
    env: fixture.env,
    cwd: fixture.dir,
  });
  t.equal(code, 0);
  const shown = (await fixture.vaultData(chatPath)).data.DB_PASS!;
  t.ok(stdout.endsWith(`${shown}\n`), 'printed on a TTY with --show');
});

t.test('the built binary reads --value-stdin from its real standard input', async (t) => {
  const value = canary('binary');
  generated.push(value);
  const child = spawn(process.execPath, [path.join(projectRoot, 'bin', 'coffre.js'), 'rotate', '--repo', fixture.dir, 'chat', 'db', 'DB_USER', '--value-stdin'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...fixture.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stdin.end(`${value}\n`);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  t.equal(code, 0, 'exit 0');
  t.equal((await fixture.vaultData(chatPath)).data.DB_USER, value);
  t.match(output, /rotated DB_USER of chat\/db/);
  t.notOk(output.includes(value), 'the value is not echoed');
});

t.test('no planted or generated value appears in any output of rotate/set/versions/rollback', async (t) => {
  const all = fixture.outputs();
  const values = [...Object.values(fixture.canaries), ...generated];
  t.ok(generated.length >= 6, 'generated values were collected');
  for (const value of values) t.notOk(all.includes(value.trim()), 'value absent from every output');
  t.notOk(/canary/.test(all), 'no canary text at all');
});

t.test('the audit line names the Vault token (display name, identity entity); never the token or its accessor', async (t) => {
  const name = `alice-${Math.random().toString(36).slice(2, 8)}`;
  const created = await fixture.bao.vaultHttp('POST', 'auth/token/create', { policies: ['coffre-admin'], display_name: name, ttl: '10m' });
  const token = (created.body as { auth: { client_token: string; accessor: string } }).auth;
  const result = await fixture.coffre(['rotate', 'chat', 'db', 'DB_PASS', '--generate'], { env: { ...fixture.env, VAULT_TOKEN: token.client_token } });
  t.equal(result.code, 0, result.stderr);
  const [audit] = auditOf(result.stderr);
  t.match(audit, { action: 'rotate', outcome: 'written', vaultIdentity: { displayName: `token-${name}` } });
  t.notOk(result.stderr.includes(token.client_token), 'no token in the audit line');
  t.notOk(result.stderr.includes(token.accessor), 'no accessor either');

  // A token that may not look itself up (no `default` policy) still writes; the line just has no identity.
  const blind = await fixture.bao.tokenWithPolicies(['coffre-admin'], { noDefaultPolicy: true });
  const second = await fixture.coffre(['rotate', 'chat', 'db', 'DB_PASS', '--generate'], { env: { ...fixture.env, VAULT_TOKEN: blind } });
  t.equal(second.code, 0, second.stderr);
  const [secondAudit] = auditOf(second.stderr);
  t.match(secondAudit, { action: 'rotate', outcome: 'written' });
  t.notOk('vaultIdentity' in (secondAudit ?? {}), 'no identity when lookup-self is denied');
});
