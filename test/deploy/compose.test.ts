// docker-compose.yml as shipped, read by the real Docker Compose v2 (pinned in scripts/tools.env, installed
// into .tools/bin by scripts/install-tools.sh): `config --format json` needs no engine and gives the model
// compose would run (interpolated, anchors merged, defaults filled), for the default and the dev profile.
// Asserted: secrets are mounted files and no token travels in an environment variable, the dev profile
// wires coffre-dev to its OpenBao (address, healthy + bootstrapped dependencies, the minted token file), the
// healthchecks, and the clear error when the tokens file is not named.
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { composeBinary, composeEnv } from '../support/compose.js';
import { projectRoot } from '../support/tools.js';

const exec = promisify(execFile);
const compose = composeBinary;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Model = any;

/** `docker compose config --format json` with exactly these variables (no caller's environment leaks in). */
async function config(profiles: string[], vars: Record<string, string>): Promise<Model> {
  const args = ['-f', path.join(projectRoot, 'docker-compose.yml'), ...profiles.flatMap((p) => ['--profile', p]), 'config', '--format', 'json'];
  const { stdout } = await exec(compose, args, { cwd: projectRoot, env: composeEnv(vars) });
  return JSON.parse(stdout);
}

const tokensVars = { COFFRE_TOKENS_FILE: 'deploy/tokens.example.yaml' };

/** No variable of a coffre container holds a token; the *_FILE variables name files instead. */
function assertNoTokenInEnvironment(t: Test, name: string, service: Model): void {
  const names = Object.keys(service.environment ?? {});
  t.same(names.filter((n) => /TOKEN|SECRET|PASSWORD|AGE_KEY$/.test(n) && !n.endsWith('_FILE')), [], `${name}: no token or key in environment (${names.join(', ')})`);
}

t.test('the pinned docker compose binary is installed', async (t) => {
  try {
    accessSync(compose, constants.X_OK);
  } catch {
    t.fail(`docker compose is missing at ${compose}: run \`npm run tools\` (scripts/install-tools.sh)`);
    return;
  }
  const { stdout } = await exec(compose, ['version']);
  t.match(stdout, /Docker Compose version v2\.\d+\.\d+/);
});

t.test('default profile: coffre only, its secrets as files under /run/secrets, no token in its environment', async (t) => {
  const model = await config([], tokensVars);
  t.same(Object.keys(model.services).sort(), ['coffre'], 'the dev services stay off by default');
  const coffre = model.services.coffre;
  t.same(
    coffre.secrets.map((s: { source: string; target: string }) => `${s.source}=${s.target}`).sort(),
    ['age-key=/run/secrets/age-key', 'coffre-tokens=/run/secrets/coffre-tokens', 'vault-token=/run/secrets/vault-token'],
  );
  t.match(coffre.environment, {
    COFFRE_TOKENS_FILE: '/run/secrets/coffre-tokens',
    SOPS_AGE_KEY_FILE: '/run/secrets/age-key',
    BAO_TOKEN_FILE: '/run/secrets/vault-token',
    BAO_ADDR: '',
    COFFRE_LISTEN: '0.0.0.0:8080',
  });
  assertNoTokenInEnvironment(t, 'coffre', coffre);
  t.equal(model.secrets['coffre-tokens'].file, path.join(projectRoot, 'deploy', 'tokens.example.yaml'));
  t.equal(model.secrets['age-key'].file, path.join(projectRoot, 'examples', 'infra', 'DEMO-ONLY-age-key.txt'), 'default: the demo key');
  t.equal(model.secrets['vault-token'].file, '/dev/null', 'no Vault token unless COFFRE_VAULT_TOKEN_FILE names one');
  t.same(coffre.command, ['serve', '-C', '/repo']);
  t.same(coffre.healthcheck.test, ['CMD', 'node', '/app/bin/healthcheck.js'], 'the healthcheck reads COFFRE_LISTEN / COFFRE_TLS_CERT like serve');
  t.equal(coffre.read_only, true);
  t.same(coffre.cap_drop, ['ALL']);
  t.equal(coffre.user, '1000:1000');
  t.match(coffre.volumes, [{ type: 'bind', source: path.join(projectRoot, 'examples', 'infra'), target: '/repo' }]);
  t.notOk(coffre.volumes[0].read_only, 'renders write into the repo');
  t.same(coffre.ports.map((p: { host_ip: string; published: string; target: number }) => `${p.host_ip}:${p.published}:${p.target}`), ['127.0.0.1:8080:8080']);

  // Real values named by the operator.
  const named = await config([], { ...tokensVars, COFFRE_VAULT_TOKEN_FILE: '/etc/coffre/vault-token', COFFRE_AGE_KEY_FILE: '/etc/coffre/age.txt', BAO_ADDR: 'https://bao.example:8200' });
  t.equal(named.secrets['vault-token'].file, '/etc/coffre/vault-token');
  t.equal(named.secrets['age-key'].file, '/etc/coffre/age.txt');
  t.equal(named.services.coffre.environment.BAO_ADDR, 'https://bao.example:8200');
  assertNoTokenInEnvironment(t, 'coffre with Vault', named.services.coffre);
});

t.test('dev profile: coffre-dev waits for a healthy OpenBao and the bootstrap, and reads the minted token file', async (t) => {
  const model = await config(['dev'], tokensVars);
  t.same(Object.keys(model.services).sort(), ['coffre', 'coffre-dev', 'openbao', 'openbao-bootstrap']);
  const dev = model.services['coffre-dev'];
  t.equal(dev.environment.BAO_ADDR, 'http://openbao:8200');
  t.equal(dev.environment.BAO_TOKEN_FILE, '/run/coffre-dev/host-token');
  assertNoTokenInEnvironment(t, 'coffre-dev', dev);
  t.match(dev.depends_on, { openbao: { condition: 'service_healthy' }, 'openbao-bootstrap': { condition: 'service_completed_successfully' } });
  t.match(dev.volumes, [{ target: '/repo' }, { type: 'volume', source: 'dev-token', target: '/run/coffre-dev', read_only: true }]);
  t.same(dev.ports.map((p: { host_ip: string; published: string }) => `${p.host_ip}:${p.published}`), ['127.0.0.1:8081'], 'beside coffre, on its own loopback port');

  const bao = model.services.openbao;
  t.equal(bao.image, 'openbao/openbao:2.7.2');
  t.same(bao.command.slice(0, 2), ['server', '-dev']);
  t.same(bao.healthcheck.test, ['CMD', 'bao', 'status', '-address=http://127.0.0.1:8200']);
  t.ok(bao.ports.every((p: { host_ip: string }) => p.host_ip === '127.0.0.1'));

  const boot = model.services['openbao-bootstrap'];
  t.match(boot.depends_on, { openbao: { condition: 'service_healthy' } });
  t.match(boot.volumes, [{ type: 'bind', source: path.join(projectRoot, 'policies'), target: '/policies', read_only: true }, { type: 'volume', source: 'dev-token', target: '/run/coffre-dev' }]);
  const script = boot.command.join('\n');
  // `config` prints `$$` as written (its output is itself a compose file); the container's shell gets `$`.
  t.match(script, /for f in \/policies\/\*\.hcl; do name=\$\$\(basename "\$\$f" \.hcl\); bao policy write "\$\$name" "\$\$f"; done/, 'loads every policy');
  t.match(script, /bao token create -policy=coffre-host .*-field=token > \/run\/coffre-dev\/host-token\.new/);
  t.match(script, /chown "\$\$COFFRE_UID:\$\$COFFRE_GID" \/run\/coffre-dev\/host-token\.new/, 'readable by coffre\'s uid only');
  t.match(script, /umask 077/);
  t.match(script, /mv \/run\/coffre-dev\/host-token\.new \/run\/coffre-dev\/host-token/, 'the file appears whole');
  t.equal(boot.restart, 'no');
  t.ok(model.volumes['dev-token'], 'the shared token volume is declared');
});

t.test('without COFFRE_TOKENS_FILE compose refuses with a message naming the example', async (t) => {
  const error = await config([], {}).then(
    () => null,
    (e: { stderr: string }) => e,
  );
  t.ok(error, 'compose exits non-zero');
  t.match(error?.stderr, /COFFRE_TOKENS_FILE.*deploy\/tokens\.example\.yaml/);
});
