// coffre against a real 3-node OpenBao Raft cluster (its own, started here: the launcher's dev server is one
// node): the active node is SIGKILLed in the middle of `check`, `render --all` and `rotate`, at a precise
// moment (a proxy in front of the active node holds one request, the node is killed, the held connection is
// dropped). Reads go on on another node, renders complete or leave nothing partial, a rotation is applied
// exactly once, and with every node down the error names them.
import { readdir, readFile, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { parseEnvFile } from '../../src/core/env-file.js';
import { makeClusterRepo, type ClusterRepo } from '../support/cluster-repo.js';
import { startCutProxy, type CutProxy } from '../support/cut-proxy.js';
import type { CliRun } from '../support/run-cli.js';
import { startOpenBaoCluster, type ClusterNode } from '../support/openbao-cluster.js';
import { vaultHttp } from '../support/openbao.js';
import { runCoffre } from '../support/run-cli.js';
import { projectRoot } from '../support/tools.js';

const SERVICES = 40;
/** A read or a write must get through within this much after the kill (election included). */
const FAILOVER_BOUND_MS = 20_000;

const cluster = await startOpenBaoCluster({ log: (line) => process.stderr.write(`cluster: ${line}\n`) });
t.teardown(() => cluster.stop());

// A least-privilege token from the committed policy (the rotator: reads, writes, metadata).
const active0 = await cluster.waitForActive();
/** Setup calls on a fresh cluster: a pooled connection the server already closed is retried once. */
const setupCall = (method: string, apiPath: string, body?: unknown) =>
  vaultHttp(active0.address, cluster.rootToken, method, apiPath, body).catch(() => vaultHttp(active0.address, cluster.rootToken, method, apiPath, body));
const policy = readFileSync(path.join(projectRoot, 'policies', 'coffre-admin.hcl'), 'utf8');
// (No assertion at the top level: tap would end the root test, and stop the cluster, at the next await.)
if ((await setupCall('PUT', 'sys/policies/acl/coffre-admin', { policy })).status !== 204) throw new Error('loading the coffre-admin policy failed');
const created = await setupCall('POST', 'auth/token/create', { policies: ['coffre-admin'], ttl: '30m' });
const token = created.body.auth.client_token as string;
const env = { VAULT_TOKEN: token, HOME: t.testdir({}) };

interface Arranged {
  active: ClusterNode;
  proxy: CutProxy;
  repo: ClusterRepo;
}

/** The active node behind a proxy, listed first (so coffre starts there), the standbys after it. */
async function arrange(tt: Test, options: { failoverMs?: number } = {}): Promise<Arranged> {
  const active = await cluster.waitForActive();
  const proxy = await startCutProxy(active.address);
  tt.teardown(() => proxy.close());
  const standbys = cluster.nodes.filter((n) => n !== active).map((n) => n.address);
  const repo = await makeClusterRepo({
    addresses: [proxy.address, ...standbys],
    seedAddress: active.address,
    token: cluster.rootToken,
    services: SERVICES,
    concurrency: 4,
    root: tt.testdir({}),
    ...(options.failoverMs !== undefined ? { failoverMs: options.failoverMs } : {}),
  });
  return { active, proxy, repo };
}

/** Waits for the proxy to hold the request; a run that ends without sending it fails the test (no hang). */
async function heldDuring(tt: Test, proxy: CutProxy, run: Promise<CliRun>): Promise<boolean> {
  const first = await Promise.race([proxy.held().then(() => 'held' as const), run.then(() => 'ended' as const)]);
  if (first === 'ended') {
    const result = await run;
    tt.fail(`the run ended before the request to hold was sent: exit ${result.code} ${result.stderr.slice(0, 300)}`);
    return false;
  }
  return true;
}

/** Brings a killed node back (it rejoins as a follower) so the next test again has three. */
async function heal(): Promise<void> {
  for (const node of cluster.nodes) if (!node.alive()) await node.restart();
  await cluster.waitForActive();
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

async function renderedValues(file: string): Promise<Map<string, string>> {
  const text = await readFile(file, 'utf8');
  return new Map(parseEnvFile(text, { lookup: () => undefined }).entries.map((e) => [e.key, e.value] as const));
}

/** Every service rendered in full with the stored values, or not at all; no temp file left anywhere. */
async function assertNothingPartial(tt: Test, repo: ClusterRepo): Promise<{ complete: number; absent: number }> {
  let complete = 0;
  let absent = 0;
  for (const service of repo.services) {
    const files = repo.files.filter((f) => f.service === service);
    const present = await Promise.all(files.map((f) => stat(f.target).then(() => true, () => false)));
    if (present.every((p) => !p)) {
      absent += 1;
    } else {
      tt.ok(present.every(Boolean), `${service}: every file rendered, or none`);
      for (const f of files) tt.same(Object.fromEntries(await renderedValues(f.target)), f.values, `${service}/${f.name}: the stored values`);
      complete += 1;
    }
    const names = await readdir(path.join(repo.root, service, 'secrets'));
    tt.same(names.filter((n) => !n.endsWith('.secrets') && !n.endsWith('.secrets.example')), [], `${service}: no temp file left`);
  }
  return { complete, absent };
}

async function metadata(secretPath: string): Promise<{ current: number; versions: number }> {
  const r = await cluster.vaultHttp('GET', `secret/metadata/${secretPath}`);
  return { current: r.body.data.current_version as number, versions: Object.keys(r.body.data.versions as object).length };
}

async function versionData(secretPath: string, version: number): Promise<Record<string, string>> {
  const r = await cluster.vaultHttp('GET', `secret/data/${secretPath}?version=${version}`);
  return r.body.data.data as Record<string, string>;
}

t.test('check: the active node killed mid-run, the reads go on on another node and the report is complete', async (t) => {
  const { active, proxy, repo } = await arrange(t);
  t.teardown(heal);
  proxy.hold(new RegExp(`^GET /v1/secret/(subkeys|data)/${escape(repo.prefix)}/svc020/f0`), 'answer');
  const run = runCoffre(['-C', repo.root, 'check', '--all', '--format', 'json'], env);
  if (!(await heldDuring(t, proxy, run))) return;
  await active.kill();
  const killedAt = Date.now();
  proxy.cut();
  const result = await run;
  const afterKill = Date.now() - killedAt;
  t.equal(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as { services: Array<{ service?: string; name?: string; files?: Array<{ keys: Array<{ status: string }> }> }> };
  t.equal(report.services.length, SERVICES, 'every service checked');
  t.ok(afterKill < FAILOVER_BOUND_MS, `finished ${afterKill} ms after the kill`);
  t.notOk(repo.files.some((f) => Object.values(f.values).some((v) => result.stdout.includes(v) || result.stderr.includes(v))), 'no value printed');
});

t.test('render --all: the active node killed mid-run, every service is rendered in full', async (t) => {
  const { active, proxy, repo } = await arrange(t);
  t.teardown(heal);
  proxy.hold(new RegExp(`^GET /v1/secret/data/${escape(repo.prefix)}/svc020/f1`), 'answer');
  const run = runCoffre(['-C', repo.root, 'render', '--all'], env);
  if (!(await heldDuring(t, proxy, run))) return;
  await active.kill();
  const killedAt = Date.now();
  proxy.cut();
  const result = await run;
  const afterKill = Date.now() - killedAt;
  t.equal(result.code, 0, result.stderr);
  const { complete, absent } = await assertNothingPartial(t, repo);
  t.equal(complete, SERVICES, 'every service rendered');
  t.equal(absent, 0);
  t.ok(afterKill < FAILOVER_BOUND_MS, `finished ${afterKill} ms after the kill`);
  for (const f of repo.files.slice(0, 3)) t.equal((await stat(f.target)).mode & 0o777, 0o600);
});

for (const what of ['answer', 'request'] as const) {
  const story =
    what === 'answer'
      ? 'the node applied the write, then died before answering: coffre finds its version and does not write again'
      : 'the write never reached the node: coffre finds the secret unchanged and writes it on the new active node';
  t.test(`rotate: ${story}`, async (t) => {
    const { active, proxy, repo } = await arrange(t);
    t.teardown(heal);
    const file = repo.files.find((f) => f.service === 'svc005' && f.name === 'f0')!;
    const before = await metadata(file.vaultPath);
    t.equal(before.current, 1);
    proxy.hold(new RegExp(`^POST /v1/secret/data/${escape(file.vaultPath)} `), what);
    const run = runCoffre(['-C', repo.root, 'rotate', 'svc005', 'f0', 'F0_KEY_1', '--generate', '--render', '--format', 'json'], env);
    if (!(await heldDuring(t, proxy, run))) return;
    await active.kill();
    const killedAt = Date.now();
    proxy.cut();
    const result = await run;
    const afterKill = Date.now() - killedAt;
    t.equal(result.code, 0, result.stderr);
    t.ok(afterKill < FAILOVER_BOUND_MS, `finished ${afterKill} ms after the kill`);
    const after = await metadata(file.vaultPath);
    t.equal(after.current, before.current + 1, 'exactly one new version: none lost, none doubled');
    t.equal(after.versions, before.versions + 1);
    const stored = await versionData(file.vaultPath, after.current);
    t.not(stored.F0_KEY_1, file.values.F0_KEY_1, 'the new value is stored');
    t.same({ ...stored, F0_KEY_1: file.values.F0_KEY_1 }, file.values, 'the other keys are unchanged');
    t.equal((await renderedValues(file.target)).get('F0_KEY_1'), stored.F0_KEY_1, 'the render after the rotation holds the stored new value');
    t.notOk(result.stdout.includes(stored.F0_KEY_1!) || result.stderr.includes(stored.F0_KEY_1!), 'no value printed');
  });
}

t.test('every node down: check and render fail closed, naming every node, within the failover budget', async (t) => {
  const { proxy, repo } = await arrange(t, { failoverMs: 2_000 });
  // Render: every node killed while a read is held; the services rendered before stay whole, the rest absent.
  proxy.hold(new RegExp(`^GET /v1/secret/data/${escape(repo.prefix)}/svc015/f0`), 'answer');
  const run = runCoffre(['-C', repo.root, 'render', '--all'], env);
  if (!(await heldDuring(t, proxy, run))) return;
  await Promise.all(cluster.nodes.map((n) => n.kill()));
  proxy.cut();
  const started = Date.now();
  const render = await run;
  t.not(render.code, 0, 'render fails');
  t.match(render.stdout + render.stderr, 'COFFRE_SOURCE_UNREACHABLE');
  const { complete, absent } = await assertNothingPartial(t, repo);
  t.ok(absent > 0, `${absent} services left unrendered, ${complete} rendered in full`);
  t.ok(Date.now() - started < 2_000 + 10_000, 'render gave up within the failover budget (plus one request timeout)');

  const check = await runCoffre(['-C', repo.root, 'check', '--all'], env);
  t.equal(check.code, 3, check.stderr);
  t.match(check.stdout + check.stderr, 'COFFRE_SOURCE_UNREACHABLE');
  const output = check.stdout + check.stderr;
  t.match(output, 'no node answered within 2000 ms of failover');
  t.comment(output.split('\n').find((line) => line.includes('no node answered')) ?? '');
  const named = [proxy.address, ...cluster.nodes.map((n) => n.address)].filter((a) => new RegExp(`${escape(a)} (ECONNREFUSED|ECONNRESET|socket hang up|\\w+)`).test(output));
  t.equal(named.length, 3, `the error names the 3 listed nodes with their failure: ${named.join(' ')}`);
});
