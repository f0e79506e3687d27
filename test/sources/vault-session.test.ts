// The long-lived Vault session against a real OpenBao with AppRole: one login shared by many workspaces,
// renewal before expiry, a new login after the max TTL or a revocation, response-wrapped secret_ids (usable
// once, with a clear error on reuse), static-token sessions, and the session state in /readyz.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { VaultRef } from '../../src/sources/secret-source.js';
import { createVaultSession, type VaultSession } from '../../src/sources/vault-session.js';
import { createVaultSource } from '../../src/sources/vault.js';
import { openVaultSession, openWorkspace } from '../../src/use-cases/workspace.js';
import { makeHttpFixture } from '../http/http-fixture.js';
import { sharedOpenBao, type SharedOpenBao } from '../support/openbao.js';
import { startServeProcess } from '../support/serve-process.js';
import { expectCoffreError } from './vault-expect.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface AppRoleSetup {
  mount: string;
  roleId: string;
  /** A new secret_id (`numUses` 0 = unlimited). */
  secretId(numUses: number): Promise<string>;
  /** A new secret_id, response-wrapped: returns the wrapping token. */
  wrappedSecretId(): Promise<string>;
  /** Revokes every token issued by this AppRole mount (found through their accessors). */
  revokeLoginTokens(): Promise<number>;
}

/** Enables AppRole at a mount unique to the test, role `coffre` bound to coffre-host with the given TTLs. */
async function appRole(t: Test, bao: SharedOpenBao, ttl: { tokenTtl: string; tokenMaxTtl: string }): Promise<AppRoleSetup> {
  const mount = `approle-${bao.prefix}`;
  await bao.tokenWithPolicies(['coffre-host']); // loads policies/coffre-host.hcl
  const ok = (status: number, what: string): void => {
    if (status !== 200 && status !== 204) throw new Error(`AppRole setup: ${what} answered ${status}`);
  };
  ok((await bao.vaultHttp('POST', `sys/auth/${mount}`, { type: 'approle' })).status, 'enable');
  t.teardown(() => bao.vaultHttp('DELETE', `sys/auth/${mount}`));
  const role = { token_policies: ['coffre-host'], token_ttl: ttl.tokenTtl, token_max_ttl: ttl.tokenMaxTtl };
  ok((await bao.vaultHttp('POST', `auth/${mount}/role/coffre`, role)).status, 'role');
  const roleId = (await bao.vaultHttp('GET', `auth/${mount}/role/coffre/role-id`)).body.data.role_id as string;
  return {
    mount,
    roleId,
    async secretId(numUses) {
      const r = await bao.vaultHttp('POST', `auth/${mount}/role/coffre/secret-id`, { num_uses: numUses });
      return r.body.data.secret_id as string;
    },
    async wrappedSecretId() {
      const response = await fetch(`${bao.address}/v1/auth/${mount}/role/coffre/secret-id`, {
        method: 'POST',
        headers: { 'X-Vault-Token': bao.rootToken, 'X-Vault-Wrap-TTL': '120s', 'Content-Type': 'application/json' },
        body: JSON.stringify({ num_uses: 0 }),
      });
      const body = (await response.json()) as { wrap_info?: { token?: string } };
      if (typeof body.wrap_info?.token !== 'string') throw new Error(`wrapping answered ${response.status} without wrap_info`);
      return body.wrap_info.token;
    },
    async revokeLoginTokens() {
      const list = await bao.vaultHttp('GET', 'auth/token/accessors?list=true');
      let revoked = 0;
      for (const accessor of list.body.data.keys as string[]) {
        const info = await bao.vaultHttp('POST', 'auth/token/lookup-accessor', { accessor });
        if (info.body?.data?.path !== `auth/${mount}/login`) continue;
        await bao.vaultHttp('POST', 'auth/token/revoke-accessor', { accessor });
        revoked += 1;
      }
      return revoked;
    },
  };
}

/** A repo folder whose coffre.yaml logs in with AppRole from two files beside it. */
function approleRepo(t: Test, bao: SharedOpenBao, setup: AppRoleSetup, secretId: string, wrapped = false): string {
  return t.testdir({
    'coffre.yaml': [
      'version: 1',
      'vault:',
      `  address: ${bao.address}`,
      `  prefix: ${bao.prefix}`,
      '  auth:',
      '    method: approle',
      '    roleIdFile: role-id',
      '    secretIdFile: secret-id',
      `    mount: ${setup.mount}`,
      ...(wrapped ? ['    secretIdWrapped: true'] : []),
      '',
    ].join('\n'),
    'role-id': `${setup.roleId}\n`,
    'secret-id': `${secretId}\n`,
  });
}

/** Plants one secret per name under the test prefix; returns refs and planted values. */
async function plant(bao: SharedOpenBao, names: string[]): Promise<{ refs: VaultRef[]; values: string[] }> {
  const refs: VaultRef[] = [];
  const values: string[] = [];
  for (const name of names) {
    const value = `planted-${randomBytes(8).toString('hex')}`;
    const ref: VaultRef = { kind: 'vault', mount: 'secret', path: `${bao.prefix}/${name}` };
    const put = await bao.vaultHttp('POST', `secret/data/${ref.path}`, { data: { VALUE: value } });
    if (put.status !== 200) throw new Error(`planting ${name} answered ${put.status}`);
    refs.push(ref);
    values.push(value);
  }
  return { refs, values };
}

/** Reads every ref through a fresh workspace sharing `session` (as coffre serve does per request). */
async function readThroughWorkspace(root: string, session: VaultSession, refs: VaultRef[]): Promise<string[]> {
  const workspace = await openWorkspace({ root, env: {}, vaultSession: session });
  try {
    const snapshots = await Promise.all(refs.map((ref) => workspace.vault!.readValues(ref)));
    return snapshots.map((s) => s?.values.get('VALUE') ?? '<missing>');
  } finally {
    workspace.close();
  }
}

t.test('many reads through several workspaces sharing one session log in exactly once', async (t) => {
  const bao = await sharedOpenBao(t);
  const setup = await appRole(t, bao, { tokenTtl: '1m', tokenMaxTtl: '5m' });
  const secretId = await setup.secretId(1); // single-use: a second login with it would fail
  const root = approleRepo(t, bao, setup, secretId);
  const { refs, values } = await plant(bao, ['a', 'b', 'c']);

  const session = (await openVaultSession({ root, env: {} }))!;
  t.teardown(() => session.close());
  t.equal(session.state().logins, 0, 'nothing is sent before the first use');
  const rounds = await Promise.all(Array.from({ length: 6 }, () => readThroughWorkspace(root, session, refs)));
  for (const read of rounds) t.same(read, values);
  t.same(await readThroughWorkspace(root, session, refs), values, 'a later workspace reads with the same token');
  const state = session.state();
  t.equal(state.logins, 1, 'one login for 7 workspaces and 21 reads');
  t.equal(state.method, 'approle');
  t.ok(state.authenticated);
  t.ok(state.tokenTtlSeconds! > 50 && state.tokenTtlSeconds! <= 60, `ttl ${state.tokenTtlSeconds}`);
  t.notOk(JSON.stringify(state).includes(secretId), 'the state holds no secret_id');
  const again = await bao.vaultHttp('POST', `auth/${setup.mount}/login`, { role_id: setup.roleId, secret_id: secretId }, '');
  t.equal(again.status, 400, 'the single-use secret_id is spent: the session logged in once');
});

t.test('the token is renewed before it expires, so reads go on past its first TTL without a new login', async (t) => {
  const bao = await sharedOpenBao(t);
  const setup = await appRole(t, bao, { tokenTtl: '3s', tokenMaxTtl: '1m' });
  const root = approleRepo(t, bao, setup, await setup.secretId(1));
  const { refs, values } = await plant(bao, ['renewed']);
  const session = (await openVaultSession({ root, env: {} }))!;
  t.teardown(() => session.close());
  await session.start();
  t.equal(session.state().tokenTtlSeconds, 3);
  t.equal(session.state().renewable, true);

  await sleep(4_500);
  const state = session.state();
  t.ok(state.renewals >= 2, `renewed ${state.renewals} times in 4.5 s (every ~2 s)`);
  t.ok(state.lastRenewal !== undefined, 'the last renewal time is shown');
  t.ok(state.tokenTtlSeconds! >= 1, `the TTL went back up (${state.tokenTtlSeconds} s left after 4.5 s of a 3 s token)`);
  t.same(await readThroughWorkspace(root, session, refs), values, 'the renewed token still reads');
  const source = createVaultSource({ address: bao.address, auth: { method: 'session', session } });
  t.teardown(() => source.close());
  const health = await source.health();
  t.ok(health.tokenTtlSeconds! >= 1 && health.tokenTtlSeconds! <= 3, `OpenBao says ${health.tokenTtlSeconds} s left`);
  t.equal(session.state().logins, 1, 'renewal, not a new login (the secret_id was single-use)');
});

t.test('after the max TTL the session logs in again and reads keep working', async (t) => {
  const bao = await sharedOpenBao(t);
  const setup = await appRole(t, bao, { tokenTtl: '3s', tokenMaxTtl: '6s' });
  const root = approleRepo(t, bao, setup, await setup.secretId(0));
  const { refs, values } = await plant(bao, ['relogin']);
  const session = (await openVaultSession({ root, env: {} }))!;
  t.teardown(() => session.close());

  const failures: string[] = [];
  for (let i = 0; i < 9; i++) {
    const read = await readThroughWorkspace(root, session, refs).catch((e: Error) => [e.message]);
    if (JSON.stringify(read) !== JSON.stringify(values)) failures.push(`read ${i}: ${read.join(',')}`);
    await sleep(1_000);
  }
  t.same(failures, [], 'every read succeeded across the max TTL');
  const state = session.state();
  t.ok(state.logins >= 2, `logged in ${state.logins} times`);
  t.ok(state.renewals >= 1, `renewed ${state.renewals} times before the max TTL`);
  t.ok(state.authenticated);
});

t.test('a response-wrapped secret_id', async (t) => {
  const bao = await sharedOpenBao(t);
  const setup = await appRole(t, bao, { tokenTtl: '2s', tokenMaxTtl: '3s' });
  const { refs, values } = await plant(bao, ['wrapped']);
  const wrapping = await setup.wrappedSecretId();
  const root = approleRepo(t, bao, setup, wrapping, true);
  const session = (await openVaultSession({ root, env: {} }))!;
  t.teardown(() => session.close());

  t.test('is checked, unwrapped and logs in', async (t) => {
    t.same(await readThroughWorkspace(root, session, refs), values);
    t.equal(session.state().logins, 1);
  });

  t.test('a second session with the same wrapping token fails clearly: already used, possible interception', async (t) => {
    const second = (await openVaultSession({ root, env: {} }))!;
    t.teardown(() => second.close());
    const e = await expectCoffreError(t, second.start(), 'COFFRE_SOURCE_AUTH', [wrapping, setup.roleId]);
    t.match(e.message, /already used/);
    t.match(e.message, /interception/);
    t.match(e.message, path.join(root, 'secret-id'));
    t.equal(second.state().lastError?.code, 'COFFRE_SOURCE_AUTH', 'the failure is in the session state');
    t.equal(second.state().authenticated, false);
  });

  t.test('after the max TTL the spent wrapping token is a clear state error, not a login loop; a new one logs in', async (t) => {
    await sleep(4_000);
    await expectCoffreError(t, readThroughWorkspace(root, session, refs), 'COFFRE_SOURCE_AUTH', [wrapping]);
    await expectCoffreError(t, readThroughWorkspace(root, session, refs), 'COFFRE_SOURCE_AUTH', [wrapping]);
    const state = session.state();
    t.equal(state.authenticated, false);
    t.equal(state.lastError?.code, 'COFFRE_SOURCE_AUTH');
    t.match(state.lastError?.message, /already unwrapped/);
    t.equal(state.logins, 1, 'no further login was attempted with the spent token');
    await writeFile(path.join(root, 'secret-id'), `${await setup.wrappedSecretId()}\n`);
    t.same(await readThroughWorkspace(root, session, refs), values, 'a new wrapping token in the file is picked up');
    t.equal(session.state().logins, 2);
  });

  t.test('a wrapping token made by another path is refused before unwrapping', async (t) => {
    const wrapped = await fetch(`${bao.address}/v1/sys/wrapping/wrap`, {
      method: 'POST',
      headers: { 'X-Vault-Token': bao.rootToken, 'X-Vault-Wrap-TTL': '120s', 'Content-Type': 'application/json' },
      body: JSON.stringify({ secret_id: 'not-from-approle' }),
    });
    const other = ((await wrapped.json()) as { wrap_info: { token: string } }).wrap_info.token;
    const otherRoot = approleRepo(t, bao, setup, other, true);
    const session = (await openVaultSession({ root: otherRoot, env: {} }))!;
    t.teardown(() => session.close());
    const e = await expectCoffreError(t, session.start(), 'COFFRE_SOURCE_AUTH', [other]);
    t.match(e.message, /created at sys\/wrapping\/wrap/);
    const lookup = await bao.vaultHttp('POST', 'sys/wrapping/lookup', { token: other });
    t.equal(lookup.status, 200, 'the foreign wrapping token was not unwrapped');
  });
});

t.test('a revoked token makes the next read log in again, once for many concurrent readers', async (t) => {
  const bao = await sharedOpenBao(t);
  const setup = await appRole(t, bao, { tokenTtl: '1m', tokenMaxTtl: '5m' });
  const root = approleRepo(t, bao, setup, await setup.secretId(0));
  const { refs, values } = await plant(bao, ['r1', 'r2']);
  const session = (await openVaultSession({ root, env: {} }))!;
  t.teardown(() => session.close());
  t.same(await readThroughWorkspace(root, session, refs), values);
  t.equal(await setup.revokeLoginTokens(), 1, 'the session token is revoked behind its back');

  const rounds = await Promise.all(Array.from({ length: 5 }, () => readThroughWorkspace(root, session, refs)));
  for (const read of rounds) t.same(read, values);
  const state = session.state();
  t.equal(state.logins, 2, 'ten denied reads shared one new login');
  t.equal(state.lastError?.code, 'COFFRE_SOURCE_AUTH', 'the revocation is recorded');
  t.ok(state.authenticated);
});

t.test('a real ACL denial is not mistaken for a dead token', async (t) => {
  const bao = await sharedOpenBao(t);
  const setup = await appRole(t, bao, { tokenTtl: '1m', tokenMaxTtl: '5m' });
  const root = approleRepo(t, bao, setup, await setup.secretId(0));
  const session = (await openVaultSession({ root, env: {} }))!;
  t.teardown(() => session.close());
  const source = createVaultSource({ address: bao.address, auth: { method: 'session', session } });
  t.teardown(() => source.close());
  const ref: VaultRef = { kind: 'vault', mount: 'secret', path: `${bao.prefix}/denied` };
  await expectCoffreError(t, source.writeValues(ref, { X: 'y' }, 0), 'COFFRE_SOURCE_DENIED', []);
  t.equal(session.state().logins, 1, 'no new login for a 403 of a live token');
});

t.test('a static-token session looks the token up and renews it when renewable; it never logs in', async (t) => {
  const bao = await sharedOpenBao(t);
  const token = await bao.tokenWithPolicies(['coffre-host'], { ttl: '3s' });
  const { refs, values } = await plant(bao, ['static']);
  const session = createVaultSession({ address: bao.address, auth: { method: 'token', token } });
  t.teardown(() => session.close());
  await session.start();
  t.equal(session.state().method, 'token');
  t.equal(session.state().renewable, true);
  await sleep(4_000);
  const source = createVaultSource({ address: bao.address, auth: { method: 'session', session } });
  t.teardown(() => source.close());
  t.equal((await source.readValues(refs[0]!))?.values.get('VALUE'), values[0], 'still valid past its first 3 s TTL');
  const state = session.state();
  t.ok(state.renewals >= 1, `renewed ${state.renewals} times`);
  t.equal(state.logins, 0);
  t.notOk(JSON.stringify(state).includes(token), 'the state holds no token');
});

t.test('/readyz shows the session state: method, TTL, logins, and the last error once re-login fails', async (t) => {
  const fixture = await makeHttpFixture(t);
  const bao = fixture.bao;
  const setup = await appRole(t, bao, { tokenTtl: '1m', tokenMaxTtl: '5m' });
  const secretId = await setup.secretId(0);
  await writeFile(
    path.join(fixture.dir, 'coffre.yaml'),
    `version: 1\nvault:\n  prefix: ${bao.prefix}\n  auth:\n    method: approle\n    roleIdFile: role-id\n    secretIdFile: secret-id\n    mount: ${setup.mount}\n`,
  );
  await writeFile(path.join(fixture.dir, 'role-id'), setup.roleId);
  await writeFile(path.join(fixture.dir, 'secret-id'), secretId);
  const env = { VAULT_ADDR: bao.address, SOPS_AGE_KEY: fixture.env.SOPS_AGE_KEY! };
  const session = (await openVaultSession({ root: fixture.dir, env }))!;
  t.teardown(() => session.close());
  const app = fixture.app({ openWorkspace: () => openWorkspace({ root: fixture.dir, env, vaultSession: session }) });
  t.teardown(() => app.close());

  const first = await app.inject({ url: '/readyz' });
  t.equal(first.statusCode, 200);
  const ready = first.json();
  t.match(ready.vault, { ok: true, session: { method: 'approle', authenticated: true, logins: 1, renewals: 0, renewable: true } });
  t.ok(ready.vault.session.tokenTtlSeconds > 50, `session TTL ${ready.vault.session.tokenTtlSeconds}`);
  t.ok(ready.vault.session.lastLogin, 'last login time shown');
  await app.inject({ url: '/readyz' });
  t.equal(session.state().logins, 1, 'a second request reuses the login');

  // The secret_id is destroyed and the token revoked: the re-login the next request attempts must fail.
  await bao.vaultHttp('POST', `auth/${setup.mount}/role/coffre/secret-id/destroy`, { secret_id: secretId });
  await setup.revokeLoginTokens();
  const broken = await app.inject({ url: '/readyz' });
  t.equal(broken.statusCode, 503);
  const down = broken.json();
  t.equal(down.vault.ok, false);
  t.equal(down.vault.error.code, 'COFFRE_SOURCE_AUTH');
  t.match(down.vault.session, { method: 'approle', authenticated: false, lastError: { code: 'COFFRE_SOURCE_AUTH' } });
  t.notOk('tokenTtlSeconds' in down.vault.session, 'no TTL without a token');
  for (const text of [first.body, broken.body, fixture.logs()]) {
    t.notOk(text.includes(secretId) || text.includes(setup.roleId), 'no secret_id or role_id in answers or logs');
  }
});

t.test('without a shared session (the CLI), each workspace logs in once with a private session and closes it', async (t) => {
  const bao = await sharedOpenBao(t);
  const setup = await appRole(t, bao, { tokenTtl: '1m', tokenMaxTtl: '5m' });
  const root = approleRepo(t, bao, setup, await setup.secretId(1));
  const { refs, values } = await plant(bao, ['cli-a', 'cli-b']);
  const workspace = await openWorkspace({ root, env: {} });
  const read = await Promise.all(refs.map((ref) => workspace.vault!.readValues(ref)));
  t.same(read.map((r) => r?.values.get('VALUE')), values);
  t.equal(workspace.vaultSession?.state().logins, 1);
  workspace.close();
  await expectCoffreError(t, workspace.vaultSession!.currentToken(), 'COFFRE_SOURCE_AUTH', []);
});

t.test('`coffre serve` with AppRole logs in once for the process: many requests with a single-use secret_id', async (t) => {
  const fixture = await makeHttpFixture(t);
  const bao = fixture.bao;
  const setup = await appRole(t, bao, { tokenTtl: '1m', tokenMaxTtl: '5m' });
  const secretId = await setup.secretId(1);
  await writeFile(
    path.join(fixture.dir, 'coffre.yaml'),
    `version: 1\nvault:\n  prefix: ${bao.prefix}\n  auth:\n    method: approle\n    roleIdFile: role-id\n    secretIdFile: secret-id\n    mount: ${setup.mount}\n`,
  );
  await writeFile(path.join(fixture.dir, 'role-id'), setup.roleId);
  await writeFile(path.join(fixture.dir, 'secret-id'), secretId);
  const serve = await startServeProcess(t, ['-C', fixture.dir, '--insecure-no-auth', '--listen', '127.0.0.1:0'], { VAULT_ADDR: bao.address, SOPS_AGE_KEY: fixture.env.SOPS_AGE_KEY! });
  const { url } = serve;
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) {
    statuses.push((await fetch(`${url}/v1/check`)).status);
    statuses.push((await fetch(`${url}/readyz`)).status);
  }
  t.same(statuses, [200, 200, 200, 200, 200, 200, 200, 200], 'every request served with the one login');
  const ready = (await (await fetch(`${url}/readyz`)).json()) as { vault: { session: { method: string; logins: number } } };
  t.match(ready.vault.session, { method: 'approle', logins: 1 });
  t.equal(await serve.stop(), 0, 'exit 0 after SIGTERM: the session timer does not hold the process');
  const { stdout, stderr } = serve.output();
  t.match(stdout, /Vault AppRole login/);
  t.notOk(stdout.includes(secretId) || stderr.includes(secretId) || stdout.includes(setup.roleId), 'no secret_id or role_id in the output');
});
