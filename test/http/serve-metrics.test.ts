// The built `coffre serve`: its metrics carry the real build information, and the Vault requests of the
// shared session and of each request's workspace are reported (the observer the shell wires in).
import t from 'tap';
import { startServeProcess } from '../support/serve-process.js';
import { makeHttpFixture } from './http-fixture.js';

const fixture = await makeHttpFixture(t);

t.test('coffre serve reports build info and the Vault requests of its session and workspaces', async (t) => {
  const serve = await startServeProcess(t, ['-C', fixture.dir, '--insecure-no-auth', '--listen', '127.0.0.1:0'], fixture.env);
  const get = async (path: string) => {
    const response = await fetch(`${serve.url}${path}`);
    return { status: response.status, text: await response.text() };
  };
  t.equal((await get('/v1/check')).status, 200);
  const metrics = (await get('/metrics')).text;
  t.match(metrics, new RegExp(`^coffre_build_info\\{version="\\d+\\.\\d+\\.\\d+[^"]*",node="${process.versions.node.replace(/\./g, '\\.')}"\\} 1$`, 'm'));
  t.match(metrics, /^coffre_vault_request_duration_seconds_count\{operation="kv-data",outcome="2xx"\} [1-9]\d*$/m, 'the workspace reads');
  t.match(metrics, /^coffre_vault_request_duration_seconds_count\{operation="auth",outcome="2xx"\} [1-9]\d*$/m, 'the session looks its token up');
  const doc = JSON.parse((await get('/openapi.json')).text);
  t.match(doc.info.version, /^\d+\.\d+\.\d+/, 'the document carries the real version');
  t.equal(await serve.stop(), 0);
});
