// A sops binary store (`T.sops`, made by the real sops binary) encrypts its key names: its decrypted text is
// read as the env file T, but nothing from that text may surface — not as an "extra" key name in check
// (text, json, junit, keys-only), render (plan, result) or the HTTP API, nor in an error about bad content.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { runCli } from '../../src/cli/main.js';
import { buildApp } from '../../src/http/app.js';
import { createLogger } from '../../src/http/logger.js';
import { openWorkspace } from '../../src/use-cases/workspace.js';
import { newAgeKey, writeSopsFile } from '../support/sops.js';
import { projectRoot } from '../support/tools.js';

const exec = promisify(execFile);

// Lines that parse as env lines whose "names" are really secret text: a base64 secret with padding and a
// YAML-ish note, next to the one key the example declares.
const PLANTED = ['c2VjcmV0UGxhbnRlZEJhc2U2NA', 'planted-name-Qx7', 'still-secret-Qx7', 'value-of-declared-key-Qx7', 'BEGIN-OPENSSH-Qx7', 'b3BlbnNzaC1rZXktQx7'];
const APP_PLAINTEXT = `APP_PASSWORD=${PLANTED[3]}\n${PLANTED[0]}==\n${PLANTED[1]}: ${PLANTED[2]}\n`;
// Not an env file at all: a key pasted whole.
const KEY_PLAINTEXT = `-----${PLANTED[4]} PRIVATE KEY-----\n${PLANTED[5]}\n-----END OPENSSH PRIVATE KEY-----\n`;

async function coffre(argv: string[], env: Record<string, string>): Promise<string> {
  let out = '';
  const code = await runCli(argv, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (out += s) }, env, cwd: projectRoot });
  return `exit ${code}\n${out}`;
}

t.test('a binary store shows no name or text of its content in any output', async (t) => {
  const key = await newAgeKey();
  const dir = t.testdir({
    '.gitignore': '*.secrets\n',
    app: {
      'docker-compose.yml': 'services:\n  app:\n    image: app\n    env_file: ./secrets/app.secrets\n',
      secrets: { 'app.secrets.example': 'APP_PASSWORD=\n' },
    },
    keys: {
      'docker-compose.yml': 'services:\n  keys:\n    image: keys\n    env_file: ./secrets/keys.secrets\n',
      secrets: { 'keys.secrets.example': 'DEPLOY_KEY=\n' },
    },
  });
  await exec('git', ['init', '-q', dir]);
  await writeSopsFile(path.join(dir, 'app', 'secrets', 'app.secrets.sops'), APP_PLAINTEXT, key);
  await writeSopsFile(path.join(dir, 'keys', 'secrets', 'keys.secrets.sops'), KEY_PLAINTEXT, key);
  const env = { SOPS_AGE_KEY: key.identity };

  const outputs: Record<string, string> = {};
  for (const format of ['text', 'json', 'junit']) {
    outputs[`check ${format}`] = await coffre(['-C', dir, 'check', '--format', format], env);
    outputs[`check --keys-only ${format}`] = await coffre(['-C', dir, 'check', '--keys-only', '--format', format], env);
  }
  outputs['render --dry-run app'] = await coffre(['-C', dir, 'render', 'app', '--dry-run', '--format', 'json'], env);
  outputs['render app'] = await coffre(['-C', dir, 'render', 'app', '--format', 'json'], env);
  outputs['render keys'] = await coffre(['-C', dir, 'render', 'keys'], env);

  const app = buildApp({
    openWorkspace: (scope) => openWorkspace({ root: dir, env, ...(scope?.services ? { services: scope.services } : {}) }),
    logger: createLogger({ level: 'debug', destination: { write: (line: string) => void (outputs.logs = (outputs.logs ?? '') + line) } }),
    tokens: null,
  });
  t.teardown(() => app.close());
  for (const url of ['/v1/check', '/v1/check?keysOnly=true', '/v1/services/app/check', '/v1/services/keys/check']) {
    outputs[`GET ${url}`] = (await app.inject({ method: 'GET', url })).body;
  }
  for (const service of ['app', 'keys']) {
    outputs[`POST render ${service}`] = (await app.inject({ method: 'POST', url: `/v1/services/${service}/render`, payload: { dryRun: true } })).body;
  }

  // The store was read: the declared key is complete, the other file is refused with a named error.
  const check = JSON.parse(outputs['check json']!.replace(/^exit \d+\n/, ''));
  const appFile = check.services.find((s: { name: string }) => s.name === 'app').files[0];
  t.same(appFile.keys.map((k: { name: string; status: string }) => `${k.status}:${k.name}`), ['ok:APP_PASSWORD'], 'only the declared key is named');
  t.match(outputs['check json'], /COFFRE_SOPS_SYNTAX/);
  t.match(outputs['render keys'], /keys\.secrets\.sops: the decrypted content of this sops binary file is not a docker compose env file \(line 1\); its text is not shown/);
  t.match(outputs['render app'], /"extraKeys": \[\]/);

  for (const [name, output] of Object.entries(outputs)) {
    for (const planted of PLANTED) t.notOk(output.includes(planted), `${name}: ${planted} not shown`);
  }
});
