// A secrets file with no source at all: no sops file beside it and no Vault address (BAO_ADDR unset or empty),
// or `source: null` in coffre.yaml. check says why and what to set, in text, json and junit, instead of
// listing every key of the example as `missing`.
import t from 'tap';
import { runCli } from '../../src/cli/main.js';
import { projectRoot } from '../support/tools.js';

async function coffre(argv: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env, cwd: projectRoot });
  return { code, stdout, stderr };
}

const repo = {
  'coffre.yaml': 'services:\n  kept:\n    files:\n      kept.secrets:\n        source: null\n',
  app: { 'docker-compose.yml': 'services:\n  web:\n    env_file: web.secrets\n', 'web.secrets.example': 'DB_PASS=\nAPI_TOKEN=\n' },
  kept: { 'docker-compose.yml': 'services:\n  k:\n    env_file: kept.secrets\n', 'kept.secrets.example': 'KEPT_KEY=\n' },
};

t.test('no sops file and no Vault address: the report says so (text, json, junit), not "missing" for every key', async (t) => {
  const dir = t.testdir(repo);
  for (const env of [{}, { BAO_ADDR: '' }]) {
    const json = await coffre(['-C', dir, 'check', '--format', 'json'], env);
    t.equal(json.code, 1, 'exit 1: source-missing');
    const report = JSON.parse(json.stdout);
    const web = report.services.find((s: { name: string }) => s.name === 'app').files[0];
    t.equal(web.status, 'source-missing');
    t.same(web.keys, [], 'no key listed as missing');
    t.match(web.reason, 'no sops file beside it and no Vault address: set BAO_ADDR (or VAULT_ADDR, or vault.address in coffre.yaml) or add a sops file app/web.secrets.sops.yaml');
    const kept = report.services.find((s: { name: string }) => s.name === 'kept').files[0];
    t.equal(kept.status, 'source-missing');
    t.same(kept.keys, []);
    t.match(kept.reason, /^source: null in coffre\.yaml/);
    t.equal(report.summary.sourceMissing, 2);
  }

  const text = await coffre(['-C', dir, 'check'], {});
  t.match(text.stdout, /✗ app\/web\.secrets {2}source-missing {2}\(no source\)\n {6}no sops file beside it and no Vault address: set BAO_ADDR/);
  t.notMatch(text.stdout, /missing\s+DB_PASS/, 'keys are not listed one by one');
  t.notMatch(text.stdout, /missing\s+KEPT_KEY/);

  const junit = await coffre(['-C', dir, 'check', '--format', 'junit'], {});
  t.match(junit.stdout, '<failure type="source-missing" message="app/web.secrets: no sops file beside it and no Vault address: set BAO_ADDR');
});

t.test('render refuses such a file with the same reason', async (t) => {
  const dir = t.testdir(repo);
  const result = await coffre(['-C', dir, 'render', 'app', '--format', 'json'], { BAO_ADDR: '' });
  t.not(result.code, 0, 'refused');
  t.match(result.stdout + result.stderr, 'app/web.secrets has no source (no sops file beside it and no Vault address: set BAO_ADDR');
});
