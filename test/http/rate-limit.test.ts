// Failed authentications counted by @fastify/rate-limit (src/http/authentication.ts): the window expires in
// real time, IPv6 clients are counted by /64 and IPv4-mapped addresses as IPv4, a missing header counts per
// client only, a valid token is never counted (not even when its role is refused), a refused attempt does
// not extend the window, and a burst of concurrent failures cannot overrun the budget. (The per-client,
// per-credential and trust-proxy cases are in api.test.ts and socket.test.ts.)
import t from 'tap';
import { bearer, makeHttpFixture } from './http-fixture.js';

const fixture = await makeHttpFixture(t);

function attempts(app: ReturnType<typeof fixture.app>) {
  return (remoteAddress: string, token: string | null, url = '/v1/services', method: 'GET' | 'POST' = 'GET') =>
    app.inject({ method, url, headers: token === null ? {} : bearer(token), remoteAddress, ...(method === 'POST' ? { payload: {} } : {}) }).then((r) => r.statusCode);
}

t.test('the window is fixed from the first failure and expires in real time', async (t) => {
  const app = fixture.app({ authFailures: { maxFailures: 2, windowMs: 1_000 } });
  t.teardown(() => app.close());
  const attempt = attempts(app);
  t.equal(await attempt('192.0.2.10', 'coffre_a'), 401);
  t.equal(await attempt('192.0.2.10', 'coffre_b'), 401);
  const refused = await app.inject({ url: '/v1/services', headers: bearer('coffre_c'), remoteAddress: '192.0.2.10' });
  t.equal(refused.statusCode, 429);
  t.equal(refused.headers['retry-after'], '1');
  t.equal(refused.json().error.code, 'COFFRE_RATE_LIMITED');
  t.notOk(Object.keys(refused.headers).some((h) => h.startsWith('x-ratelimit')), 'no x-ratelimit-* headers');
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  t.equal(await attempt('192.0.2.10', 'coffre_d'), 401, 'the window passed');
});

t.test('IPv6 clients are counted by /64, IPv4-mapped IPv6 addresses as their IPv4 address', async (t) => {
  const app = fixture.app({ authFailures: { maxFailures: 2, windowMs: 60_000 } });
  t.teardown(() => app.close());
  const attempt = attempts(app);
  t.equal(await attempt('2001:db8:1:2::1', 'coffre_v6a'), 401);
  t.equal(await attempt('2001:db8:1:2:ffff::9', 'coffre_v6b'), 401);
  t.equal(await attempt('2001:db8:1:2:abcd::7', 'coffre_v6c'), 429, 'another address of the same /64 is the same client');
  t.equal(await attempt('2001:db8:1:3::1', 'coffre_v6d'), 401, 'the next /64 is another client');
  t.equal(await attempt('198.51.100.20', 'coffre_v4a'), 401);
  t.equal(await attempt('::ffff:198.51.100.20', 'coffre_v4b'), 401);
  t.equal(await attempt('198.51.100.20', 'coffre_v4c'), 429, 'the mapped form counted for the IPv4 client');
  t.equal(await attempt('2001:db8:1:2::1', fixture.tokens.check), 200, 'a valid token from the limited /64 is served');
});

t.test('a missing header counts per client only; valid tokens are never counted, even when their role is refused', async (t) => {
  const app = fixture.app({ authFailures: { maxFailures: 2, windowMs: 60_000 } });
  t.teardown(() => app.close());
  const attempt = attempts(app);
  for (let i = 0; i < 5; i++) t.equal(await attempt('192.0.2.30', fixture.tokens.check, '/v1/services/chat/render', 'POST'), 403, `a check token may not render (${i + 1})`);
  t.equal(await attempt('192.0.2.30', 'coffre_x'), 401, 'the 403s were not failures');
  t.equal(await attempt('192.0.2.31', null), 401);
  t.equal(await attempt('192.0.2.32', null), 401);
  t.equal(await attempt('192.0.2.33', null), 401, 'no header: not one shared "credential"');
  t.equal(await attempt('192.0.2.31', null), 401);
  t.equal(await attempt('192.0.2.31', null), 429, 'but per client');
});

t.test('refused attempts do not extend the window: it does not slide while a client keeps trying', async (t) => {
  const app = fixture.app({ authFailures: { maxFailures: 1, windowMs: 1_000 } });
  t.teardown(() => app.close());
  const attempt = attempts(app);
  t.equal(await attempt('192.0.2.40', 'coffre_p'), 401);
  for (let i = 0; i < 3; i++) t.equal(await attempt('192.0.2.40', `coffre_q${i}`), 429);
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  t.equal(await attempt('192.0.2.40', 'coffre_r'), 401, 'one window after the first failure, whatever was tried meanwhile');
});

t.test('concurrent failures cannot overrun the budget: each is counted before it is answered', async (t) => {
  const app = fixture.app({ authFailures: { maxFailures: 3, windowMs: 60_000 } });
  t.teardown(() => app.close());
  await app.ready();
  const statuses = await Promise.all(Array.from({ length: 12 }, (_, i) => app.inject({ url: '/v1/services', headers: bearer(`coffre_burst_${i}`), remoteAddress: '192.0.2.50' }).then((r) => r.statusCode)));
  // The plugin's local store hands every caller the same live counter, so a burst may be refused before its
  // budget is used up; never after.
  t.ok(statuses.filter((s) => s === 401).length <= 3, `at most three of a burst answered 401 (${statuses.join(' ')})`);
  t.same(statuses.filter((s) => s !== 401 && s !== 429), [], 'the others refused with 429');
  t.equal(await attempts(app)('192.0.2.50', fixture.tokens.check), 200, 'a valid token is still served');
});
