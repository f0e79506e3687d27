// Tests the OpenBao test support itself: a dev server starts, prefixes are unique, policies load from
// policies/*.hcl and tokens minted from them are really limited by them.
import t from 'tap';
import { sharedOpenBao, startOpenBao } from '../support/openbao.js';

t.test('sharedOpenBao gives a healthy server, unique prefixes and policy-bound tokens', async (t) => {
  const a = await sharedOpenBao(t);
  const b = await sharedOpenBao(t);
  t.not(a.prefix, b.prefix, 'prefixes differ per call');
  t.equal(a.address, b.address, 'one server per file');
  const health = await a.vaultHttp('GET', 'sys/health');
  t.equal(health.status, 200);
  t.equal(health.body.sealed, false);

  const token = await a.tokenWithPolicies(['coffre-host']);
  const self = await a.vaultHttp('GET', 'auth/token/lookup-self', undefined, token);
  t.equal(self.status, 200);
  t.same([...self.body.data.policies].sort(), ['coffre-host', 'default']);
  const write = await a.vaultHttp('POST', `secret/data/${a.prefix}/x`, { data: { K: 'v' } }, token);
  t.equal(write.status, 403, 'the host policy cannot write');
});

t.test('startOpenBao seals, unseals and stops a dedicated server', async (t) => {
  const server = await startOpenBao();
  t.teardown(() => server.stop());
  t.match(server.address, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.ok(server.unsealKey.length > 10, 'unseal key captured');
  await server.seal();
  const sealed = await fetch(`${server.address}/v1/sys/health`);
  t.equal(sealed.status, 503);
  await server.unseal();
  const unsealed = await fetch(`${server.address}/v1/sys/health`);
  t.equal(unsealed.status, 200);
  await server.stop();
  await t.rejects(fetch(`${server.address}/v1/sys/health`), 'nothing listens after stop()');
});
