// Tokens file parsing (file:line errors), token lookup, roles and scopes, `coffre token new`, the serve
// command's refusals (no tokens, insecure off loopback), listen addresses. (The auth-failure limiter and the
// metrics exposition moved to libraries: test/http/rate-limit.test.ts, test/http/metrics.test.ts.)
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { runCli } from '../../src/cli/main.js';
import { hostAllowed, parseAllowedHost, parseTrustedProxy } from '../../src/http/request-origin.js';
import { isLoopbackHost, parseListenAddress } from '../../src/http/server.js';
import { createServiceQueue } from '../../src/http/service-queue.js';
import { loadTokensFile, parseTokensFile, roleAllows, scopeAllows, tokenDigest } from '../../src/http/token-registry.js';

async function coffre(argv: string[], env: Record<string, string> = {}, cwd = process.cwd()) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env, cwd });
  return { code, stdout, stderr };
}

const digest = 'a'.repeat(64);

t.test('tokens file errors name file:line and the field', async (t) => {
  const cases = [
    { name: 'a bad role', text: `tokens:\n  - id: ci\n    sha256: ${digest}\n    role: root\n`, line: 4, match: /tokens\[0\]\.role/ },
    { name: 'a digest that is not 64 hex', text: 'tokens:\n  - id: ci\n    sha256: abc\n    role: check\n', line: 3, match: /sha256: expected the 64 lowercase hex/ },
    { name: 'an unknown key', text: `tokens:\n  - id: ci\n    sha256: ${digest}\n    role: check\n    token: hunter2\n`, line: 5, match: /unknown key "token"/ },
    { name: 'a duplicate id', text: `tokens:\n  - { id: ci, sha256: ${digest}, role: check }\n  - { id: ci, sha256: ${'b'.repeat(64)}, role: admin }\n`, line: 3, match: /duplicate id "ci"/ },
    { name: 'YAML syntax', text: 'tokens:\n  - id: [ci\n', line: 3, match: /tokens\.yaml:\d+:/ },
    { name: 'no tokens list', text: 'token: []\n', line: 1, match: /unknown key "token"|tokens:/ },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const error = (() => {
        try {
          parseTokensFile(c.text, 'tokens.yaml');
        } catch (e) {
          return e as { code: string; message: string; location: { line?: number } };
        }
        return null;
      })();
      t.ok(error, 'refused');
      t.equal(error?.code, 'COFFRE_CONFIG_INVALID');
      t.match(error?.message, c.match);
      if (c.name !== 'YAML syntax' && c.name !== 'no tokens list') t.equal(error?.location.line, c.line);
      t.notMatch(error?.message ?? '', /hunter2|aaaaaaaa/, 'never quotes a token or a digest');
    });
  }
});

t.test('a registry finds a token by digest and answers role and scope questions', async (t) => {
  const registry = parseTokensFile(`tokens:\n  - { id: pad, sha256: ${tokenDigest('s3cret-token')}, role: render, services: ["pad", "apps/*"] }\n`, 'tokens.yaml');
  const principal = registry.authenticate('s3cret-token');
  t.match(principal, { id: 'pad', role: 'render', anonymous: false });
  t.equal(registry.authenticate('s3cret-tokem'), null);
  t.equal(registry.authenticate(''), null);
  if (!principal) return;
  t.ok(scopeAllows(principal, 'pad'));
  t.ok(scopeAllows(principal, 'apps/wiki'));
  t.notOk(scopeAllows(principal, 'chat'));
  t.notOk(scopeAllows(principal, 'apps/wiki/deep'));
  t.same(
    (['check', 'render', 'admin'] as const).map((role) => (['check', 'render', 'admin'] as const).map((need) => roleAllows(role, need))),
    [
      [true, false, false],
      [true, true, false],
      [true, true, true],
    ],
    'check < render < admin',
  );
});

t.test('scopes match whole names: "pad" never reaches padx, pad/x or xpad; only ** and "." reach the root service', async (t) => {
  const scoped = (services: string[]) => ({ id: 't', role: 'check' as const, services });
  const cases: Array<[string[], string, boolean]> = [
    [['pad'], 'pad', true],
    [['pad'], 'padx', false],
    [['pad'], 'pad/x', false],
    [['pad'], 'xpad', false],
    [['pad'], 'Pad', false],
    [['pad*'], 'padx', true],
    [['apps/*'], 'apps/wiki', true],
    [['apps/*'], 'apps', false],
    [['apps/**'], 'apps/a/b', true],
    [['**'], '.', true],
    [['.'], '.', true],
    [['.'], 'pad', false],
    [['*'], '.', false],
    [['?'], '.', false],
    [['pad'], '.', false],
  ];
  for (const [globs, service, allowed] of cases) t.equal(scopeAllows(scoped(globs), service), allowed, `${JSON.stringify(globs)} ${allowed ? 'covers' : 'does not cover'} ${service}`);
});

t.test('globs that could widen a scope are refused when the tokens file loads, naming file:line', async (t) => {
  for (const glob of ['!padx', '!(pad)', '{pad,chat}', 'pa[dx]', '+(pad)', '@(pad|chat)', 'pad\\x', 'pad/', './pad', 'a/../b', 'a//b']) {
    const text = `tokens:\n  - id: ci\n    sha256: ${digest}\n    role: check\n    services:\n      - ${JSON.stringify(glob)}\n`;
    t.throws(() => parseTokensFile(text, 'tokens.yaml'), { code: 'COFFRE_CONFIG_INVALID', message: /^tokens\.yaml:6: tokens\[0\]\.services\[0\]: / }, glob);
  }
  const minted = await coffre(['token', 'new', '--role', 'check', '--services', '!chat']);
  t.equal(minted.code, 2, '`coffre token new` refuses them too');
  t.match(minted.stderr, /negation/);
});

t.test('a YAML alias bomb in the tokens file is COFFRE_CONFIG_INVALID, not an internal error', async (t) => {
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]', 'tokens: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]', ''].join('\n');
  t.throws(() => parseTokensFile(bomb, 'tokens.yaml'), { code: 'COFFRE_CONFIG_INVALID', message: /alias/ });
  const file = path.join(t.testdir(), 'tokens.yaml');
  await writeFile(file, bomb);
  const serve = await coffre(['-C', 'examples/infra', 'serve', '--tokens', file]);
  t.equal(serve.code, 2);
  t.match(serve.stderr, /COFFRE_CONFIG_INVALID: \S*tokens\.yaml: .*alias/);
  t.notMatch(serve.stderr, /COFFRE_INTERNAL/);
});

const tokenOf = (stderr: string): string => /^(coffre_[A-Za-z0-9_-]{43})$/m.exec(stderr)?.[1] ?? '';

t.test('`coffre token new` shows a fresh token once on stderr and puts only the tokens-file line on stdout', async (t) => {
  const first = await coffre(['token', 'new', '--role', 'render', '--services', 'pad, chat/*', '--id', 'deploy-host']);
  t.equal(first.code, 0);
  const token = tokenOf(first.stderr);
  t.match(token, /^coffre_[A-Za-z0-9_-]{43}$/, 'the clear token is on stderr');
  t.match(first.stderr, /shown once/);
  t.notOk(first.stdout.includes('coffre_'), 'stdout never holds the clear token (`>> tokens.yaml` is safe)');
  t.equal(first.stdout.split('\n').length, 2, 'stdout is exactly one line');
  const file = path.join(t.testdir(), 'tokens.yaml');
  await writeFile(file, `tokens:\n${first.stdout}`);
  const registry = await loadTokensFile(file);
  t.match(registry.authenticate(token), { id: 'deploy-host', role: 'render', services: ['pad', 'chat/*'] });
  const second = await coffre(['token', 'new', '--role', 'check']);
  t.not(tokenOf(second.stderr), token, 'each token is fresh');
  t.match(second.stdout, /services: \["\*\*"\]/);
  t.equal((await coffre(['token', 'new', '--role', 'root'])).code, 2);
  t.equal((await coffre(['token', 'new', '--role', 'check', '--id', 'bad id'])).code, 2);
});

t.test('`coffre token new --tokens FILE` appends the line to FILE (created 0600 with `tokens:`), refusing a duplicate id', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'tokens.yaml');
  const first = await coffre(['token', 'new', '--role', 'check', '--id', 'ci', '--tokens', 'tokens.yaml'], {}, dir);
  t.equal(first.code, 0);
  t.equal(first.stdout, '', 'nothing on stdout');
  t.equal((await stat(file)).mode & 0o777, 0o600, 'created 0600');
  const second = await coffre(['token', 'new', '--role', 'admin', '--id', 'ops', '--tokens', file], {}, dir);
  t.equal(second.code, 0);
  const text = await readFile(file, 'utf8');
  t.match(text, /^tokens:\n {2}- \{ id: "ci".*\n {2}- \{ id: "ops".*\n$/);
  t.notOk(text.includes('coffre_'), 'the file holds no clear token');
  const registry = await loadTokensFile(file);
  t.match(registry.authenticate(tokenOf(first.stderr)), { id: 'ci', role: 'check' });
  t.match(registry.authenticate(tokenOf(second.stderr)), { id: 'ops', role: 'admin' });
  const duplicate = await coffre(['token', 'new', '--role', 'check', '--id', 'ci', '--tokens', file], {}, dir);
  t.equal(duplicate.code, 2);
  t.match(duplicate.stderr, /duplicate id "ci"/);
  t.equal(await readFile(file, 'utf8'), text, 'nothing written on refusal');
  t.notOk(duplicate.stderr.includes('coffre_'), 'no token shown for a refused mint');
});

t.test('serve refuses to start without a tokens file, and refuses --insecure-no-auth off loopback', async (t) => {
  const none = await coffre(['serve', '-C', 'examples/infra']);
  t.equal(none.code, 2);
  t.match(none.stderr, /COFFRE_USAGE: serve needs an API tokens file: --tokens FILE/);
  t.match(none.stderr, /--insecure-no-auth/);
  const open = await coffre(['serve', '-C', 'examples/infra', '--insecure-no-auth', '--listen', '0.0.0.0:0']);
  t.equal(open.code, 2);
  t.match(open.stderr, /refused on 0\.0\.0\.0.*loopback/);
  const both = await coffre(['serve', '-C', 'examples/infra', '--insecure-no-auth', '--tokens', 'x.yaml']);
  t.equal(both.code, 2);
  const tls = await coffre(['serve', '-C', 'examples/infra', '--insecure-no-auth', '--tls-cert', 'c.pem']);
  t.match(tls.stderr, /--tls-cert and --tls-key go together/);
  const missing = await coffre(['serve', '-C', 'examples/infra', '--tokens', path.join(t.testdir(), 'nope.yaml')]);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /COFFRE_CONFIG_INVALID: \S*nope\.yaml: cannot read the tokens file: ENOENT/);
});

t.test('serve refuses --allowed-host and --trust-proxy without a tokens file, and malformed values', async (t) => {
  const host = await coffre(['serve', 'examples/infra', '--insecure-no-auth', '--allowed-host', 'coffre.example']);
  t.equal(host.code, 2);
  t.match(host.stderr, /--allowed-host needs a tokens file/);
  const proxy = await coffre(['serve', 'examples/infra', '--insecure-no-auth', '--trust-proxy', '127.0.0.1']);
  t.equal(proxy.code, 2);
  t.match(proxy.stderr, /--trust-proxy needs a tokens file/);
  const envProxy = await coffre(['serve', 'examples/infra', '--insecure-no-auth'], { COFFRE_TRUST_PROXY: 'loopback' });
  t.match(envProxy.stderr, /--trust-proxy needs a tokens file/, 'COFFRE_TRUST_PROXY counts too');
  t.same(['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', 'loopback'].map(parseTrustedProxy), ['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', 'loopback']);
  for (const bad of ['true', '*', '10.0.0.0/33', 'proxy.example', '1.2.3.4/8/9']) t.throws(() => parseTrustedProxy(bad), { code: 'COFFRE_USAGE' }, bad);
  t.same(['Coffre.Example', '[::1]', '10.1.2.3'].map(parseAllowedHost), ['coffre.example', '::1', '10.1.2.3']);
  for (const bad of ['http://x', 'x:8080', 'a b', '']) t.throws(() => parseAllowedHost(bad), { code: 'COFFRE_USAGE' }, bad);
});

t.test('Host headers: loopback means localhost, 127/8 and [::1], with or without a port', async (t) => {
  const cases: Array<[string | undefined, boolean]> = [
    ['localhost', true],
    ['localhost:8080', true],
    ['LOCALHOST:8080', true],
    ['127.0.0.1:8080', true],
    ['127.0.0.2', true],
    ['[::1]:8080', true],
    ['[::1]', true],
    ['evil.example:8080', false],
    ['localhost.evil.example', false],
    ['127.0.0.1.nip.io', false],
    ['0.0.0.0:8080', false],
    ['10.0.0.1', false],
    ['localhost:8080@evil', false],
    ['', false],
    [undefined, false],
  ];
  for (const [header, allowed] of cases) t.equal(hostAllowed(header, 'loopback'), allowed, String(header));
  t.ok(hostAllowed('Coffre.Example:443', ['coffre.example']));
  t.notOk(hostAllowed('other.example', ['coffre.example']));
});

t.test('listen addresses and loopback detection', async (t) => {
  t.same(parseListenAddress('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
  t.same(parseListenAddress('[::1]:9'), { host: '::1', port: 9 });
  t.same(parseListenAddress(':0'), { host: '127.0.0.1', port: 0 });
  t.same(parseListenAddress('0.0.0.0:443'), { host: '0.0.0.0', port: 443 });
  for (const bad of ['8080', 'host:99999', '::1:80', 'a:b']) t.throws(() => parseListenAddress(bad), { code: 'COFFRE_USAGE' }, bad);
  t.same(['127.0.0.1', '127.1.2.3', '::1', 'localhost', '0.0.0.0', '::', '10.0.0.1'].map(isLoopbackHost), [true, true, true, true, false, false, false]);
});

t.test('the service queue runs one task at a time per service and survives a failed task', async (t) => {
  const queue = createServiceQueue();
  const order: string[] = [];
  const task = (name: string, fail = false) => async () => {
    order.push(`start ${name}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
    order.push(`end ${name}`);
    if (fail) throw new Error('failed');
    return name;
  };
  const results = await Promise.allSettled([queue.run('s', task('1', true)), queue.run('s', task('2')), queue.run('other', task('3'))]);
  t.same(results.map((r) => r.status), ['rejected', 'fulfilled', 'fulfilled']);
  t.same(order.filter((e) => !e.endsWith('3')), ['start 1', 'end 1', 'start 2', 'end 2']);
  t.ok(order.indexOf('start 3') < order.indexOf('end 1'), 'another service ran in parallel');
  t.equal(queue.busy, 0, 'idle services are forgotten');
});
