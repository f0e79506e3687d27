// `coffre check --format sarif|gitlab` end to end: a repo (in a git work tree's subfolder) with every kind of
// finding, real sops files and a real OpenBao. SARIF is validated against the official SARIF 2.1.0 schema
// (test/fixtures/sarif); the GitLab Code Quality report against its documented fields; GitLab fingerprints stay
// the same across runs and line moves; fatal errors still print a valid document; no planted value leaks.
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import t, { type Test } from 'tap';
import { runCli } from '../../src/cli/main.js';
import { sharedOpenBao } from '../support/openbao.js';
import { newAgeKey, writeSopsFile } from '../support/sops.js';
import { fixturesDir } from '../support/tools.js';

const run = promisify(execFile);

async function coffre(argv: string[], env: Record<string, string | undefined>, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env, cwd });
  return { code, stdout, stderr };
}

/** The official schema is draft-04; its only keyword draft-07 spells differently is the top-level `id`. */
async function sarifValidator() {
  const schema = JSON.parse(await readFile(path.join(fixturesDir, 'sarif', 'sarif-schema-2.1.0.json'), 'utf8')) as Record<string, unknown>;
  const { id, $schema: _draft04, ...rest } = schema;
  const ajv = new Ajv({ allErrors: true, strict: false });
  // ajv-formats checks `uri`, `uri-reference` and `date-time` (installed with fastify, a dependency).
  const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (a: Ajv) => void;
  addFormats(ajv);
  return ajv.compile({ $id: id as string, ...rest });
}

const bao = await sharedOpenBao(t);
const key = await newAgeKey();
const canaries = {
  vault: `canary-vault-${Math.random().toString(36).slice(2)}`,
  sops: `canary-sops-${Math.random().toString(36).slice(2)}`,
  extra: `canary-extra-${Math.random().toString(36).slice(2)}`,
};

const CHAT_EXAMPLE = ['DB_USER=chat', 'DB_PASS=changeme', 'DB_MISSING=', 'DB_EMPTY=', 'DB_PLACE=<set me>', '# @optional', 'DB_OPTIONAL=', 'DB_COMMENT=   # compose reads this comment as the value', ''].join('\n');

/** A git work tree whose subfolder `infra/` is the coffre repo, with one finding of every kind. */
async function fixture(t: Test): Promise<{ top: string; root: string }> {
  const top = t.testdir({
    infra: {
      '.gitignore': '*.secrets\n',
      'coffre.yaml': `version: 1\nvault:\n  prefix: ${bao.prefix}\n`,
      chat: {
        'docker-compose.yml': 'services:\n  db:\n    image: postgres\n    env_file: ./secrets/db.secrets\n',
        secrets: { 'db.secrets.example': CHAT_EXAMPLE },
      },
      pad: {
        'docker-compose.yml': 'services:\n  pad:\n    image: pad\n    env_file: [./secrets/pad.secrets]\n',
        secrets: { 'pad.secrets.example': 'PAD_TOKEN=\n', 'stale.secrets.example': 'OLD=\n' },
      },
      plain: {
        'docker-compose.yml': 'services:\n  p:\n    image: p\n    env_file: ./secrets/p.secrets\n',
        // Named like a sops file but never encrypted: the file errors (COFFRE_SOPS_METADATA).
        secrets: { 'p.secrets.example': 'P_KEY=\n', 'p.secrets.sops.yaml': 'P_KEY: not-encrypted\n' },
      },
      broken: { 'docker-compose.yml': 'services:\n  b:\n    env_file: [\n' },
    },
  });
  const root = path.join(top, 'infra');
  await mkdir(path.join(root, 'pad', 'secrets'), { recursive: true });
  await writeSopsFile(path.join(root, 'pad', 'secrets', 'pad.secrets.sops.yaml'), `PAD_TOKEN: ${canaries.sops}\nPAD_EXTRA: ${canaries.extra}\n`, key);
  const put = await bao.vaultHttp('POST', `secret/data/${bao.prefix}/chat/db`, {
    data: { DB_USER: canaries.vault, DB_PASS: `${canaries.vault}-pass`, DB_EMPTY: '', DB_PLACE: '<set me>', DB_COMMENT: canaries.vault, DB_OLD: canaries.extra },
  });
  t.equal(put.status, 200, 'secret written to OpenBao');
  await run('git', ['init', '-q', top], { env: { PATH: process.env.PATH, HOME: '/nonexistent' } });
  return { top, root };
}

const env = { VAULT_ADDR: bao.address, VAULT_TOKEN: bao.rootToken, SOPS_AGE_KEY: key.identity };

type SarifResult = {
  ruleId: string;
  ruleIndex: number;
  level: string;
  message: { text: string };
  locations: Array<{ physicalLocation: { artifactLocation: { uri: string; uriBaseId: string }; region?: { startLine: number } } }>;
  partialFingerprints: Record<string, string>;
};

t.test('sarif: one result per finding at its example file:line, rules with metadata, valid against the SARIF 2.1.0 schema', async (t) => {
  const validate = await sarifValidator();
  const { root } = await fixture(t);
  const result = await coffre(['check', '--format', 'sarif'], env, root);
  t.equal(result.code, 3, 'exit code as without a format (a file could not be read)');
  const log = JSON.parse(result.stdout);
  t.ok(validate(log), `valid SARIF 2.1.0: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
  t.equal(log.version, '2.1.0');
  const run0 = log.runs[0];
  t.equal(run0.tool.driver.name, 'coffre');
  const results = run0.results as SarifResult[];
  const find = (ruleId: string, predicate: (r: SarifResult) => boolean = () => true) => results.filter((r) => r.ruleId === ruleId && predicate(r));
  const at = (r: SarifResult) => `${r.locations[0]!.physicalLocation.artifactLocation.uri}:${r.locations[0]!.physicalLocation.region?.startLine ?? '-'}`;
  const example = 'infra/chat/secrets/db.secrets.example';
  t.same(find('missing').map(at).sort(), [`${example}:3`, `${example}:7`], 'DB_MISSING and the optional DB_OPTIONAL, at their lines, with the git prefix');
  t.same(find('missing').map((r) => r.level).sort(), ['error', 'note'], 'a missing optional key is a note');
  t.same(find('empty').map(at), [`${example}:4`]);
  t.same(find('placeholder').map(at), [`${example}:5`]);
  t.same(find('extra').map((r) => r.level), ['note', 'note'], 'DB_OLD in Vault and PAD_EXTRA in the sops file are notes');
  t.same(find('example-warning').map(at), [`${example}:8`]);
  t.equal(find('example-warning')[0]!.level, 'warning');
  t.same(find('EXAMPLE_UNREFERENCED').map((r) => [r.level, at(r)]), [['warning', 'infra/pad/secrets/stale.secrets.example:-']]);
  t.same(find('COFFRE_SOPS_METADATA').map((r) => [r.level, at(r)]), [['error', 'infra/plain/secrets/p.secrets.example:-']], 'a file that could not be checked');
  const compose = find('COFFRE_COMPOSE_INVALID');
  t.equal(compose.length, 1, 'the broken compose file once (repo problem and service error are one finding)');
  t.match(at(compose[0]!), /^infra\/broken\/docker-compose\.yml:\d+$/);
  t.equal(compose[0]!.level, 'error');
  for (const r of results) {
    t.equal(r.locations[0]!.physicalLocation.artifactLocation.uriBaseId, '%SRCROOT%', `${r.ruleId}: relative to %SRCROOT%`);
    const rule = run0.tool.driver.rules[r.ruleIndex];
    t.equal(rule.id, r.ruleId, `${r.ruleId}: ruleIndex points at its rule`);
    t.ok(rule.shortDescription.text.length > 10 && rule.help.text.length > 10, `${r.ruleId}: rule has a description and help`);
    t.match(r.partialFingerprints['coffreFinding/v1'], /^[0-9a-f]{64}$/);
  }
  t.equal(new Set(run0.tool.driver.rules.map((r: { id: string }) => r.id)).size, run0.tool.driver.rules.length, 'each rule once');
  t.ok(run0.originalUriBaseIds['%SRCROOT%'], 'the base id is described');
});

t.test('sarif and gitlab: a fatal error still prints a valid document, with the exit code of the error', async (t) => {
  const validate = await sarifValidator();
  const { root } = await fixture(t);
  const sarif = await coffre(['check', '--format', 'sarif', '--service', 'nope'], env, root);
  t.equal(sarif.code, 2);
  t.match(sarif.stderr, /COFFRE_SERVICE_UNKNOWN/);
  const log = JSON.parse(sarif.stdout);
  t.ok(validate(log), `valid SARIF: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
  t.equal(log.runs[0].invocations[0].executionSuccessful, false);
  t.equal(log.runs[0].invocations[0].toolExecutionNotifications[0].descriptor.id, 'COFFRE_SERVICE_UNKNOWN');
  t.same(log.runs[0].results, []);
  const usage = await coffre(['check', '--format', 'sarif', '--bogus'], env, root);
  t.equal(usage.code, 2);
  t.ok(validate(JSON.parse(usage.stdout)), 'a usage error too');

  const gitlab = await coffre(['check', '--format', 'gitlab', '--service', 'nope'], env, root);
  t.equal(gitlab.code, 2);
  const issues = JSON.parse(gitlab.stdout);
  t.equal(issues.length, 1, 'one issue: an empty report would read as clean');
  t.match(issues[0], { check_name: 'COFFRE_SERVICE_UNKNOWN', severity: 'blocker', location: { path: String, lines: { begin: 1 } } });
});

const SEVERITIES = ['info', 'minor', 'major', 'critical', 'blocker'];

t.test('gitlab: the documented fields and types, severities mapped, fingerprints unique and stable across runs and line moves', async (t) => {
  const { root } = await fixture(t);
  const first = await coffre(['check', '--format', 'gitlab'], env, root);
  t.equal(first.code, 3);
  const issues = JSON.parse(first.stdout) as Array<Record<string, any>>;
  t.ok(Array.isArray(issues) && issues.length >= 9, 'an array of issues');
  for (const issue of issues) {
    t.same(Object.keys(issue).sort(), ['check_name', 'description', 'fingerprint', 'location', 'severity'], 'exactly the documented fields');
    t.type(issue.description, 'string');
    t.type(issue.check_name, 'string');
    t.match(issue.fingerprint, /^[0-9a-f]{64}$/);
    t.ok(SEVERITIES.includes(issue.severity), `severity ${issue.severity} is one of GitLab's`);
    t.type(issue.location.path, 'string');
    t.notOk(issue.location.path.startsWith('/'), 'path relative to the repository');
    t.ok(Number.isInteger(issue.location.lines.begin) && issue.location.lines.begin >= 1, 'lines.begin is a positive integer');
  }
  t.equal(new Set(issues.map((i) => i.fingerprint)).size, issues.length, 'fingerprints are unique');
  const missing = issues.find((i) => i.check_name === 'missing' && i.description.includes('DB_MISSING'))!;
  t.match(missing, { severity: 'major', location: { path: 'infra/chat/secrets/db.secrets.example', lines: { begin: 3 } } });
  t.equal(issues.find((i) => i.check_name === 'extra')!.severity, 'info');
  t.equal(issues.find((i) => i.check_name === 'example-warning')!.severity, 'minor');

  const again = JSON.parse((await coffre(['check', '--format', 'gitlab'], env, root)).stdout) as Array<Record<string, any>>;
  t.same(again.map((i) => i.fingerprint), issues.map((i) => i.fingerprint), 'the same fingerprints on a second run');

  // Move every key down three lines (and reorder two): each finding keeps its fingerprint, its line changes.
  const lines = CHAT_EXAMPLE.split('\n');
  const moved = ['# moved down', '# by three', '# lines', lines[0], lines[1], lines[3], lines[2], ...lines.slice(4)].join('\n');
  await writeFile(path.join(root, 'chat', 'secrets', 'db.secrets.example'), moved);
  const after = JSON.parse((await coffre(['check', '--format', 'gitlab'], env, root)).stdout) as Array<Record<string, any>>;
  const byFingerprint = new Map(after.map((i) => [i.fingerprint, i]));
  for (const issue of issues) {
    const same = byFingerprint.get(issue.fingerprint);
    t.ok(same, `${issue.check_name} ${issue.location.path} keeps its fingerprint`);
    if (same && issue.location.path === 'infra/chat/secrets/db.secrets.example' && issue.check_name !== 'extra') {
      t.not(same.location.lines.begin, issue.location.lines.begin, `${issue.description.split(' ')[1]}: its line moved`);
    }
  }
  const movedMissing = byFingerprint.get(missing.fingerprint)!;
  t.equal(movedMissing.location.lines.begin, 7, 'DB_MISSING now at line 7');
});

t.test('canary: no planted value appears in sarif or gitlab output, with values or key names only', async (t) => {
  const { root } = await fixture(t);
  const outputs: string[] = [];
  for (const format of ['sarif', 'gitlab']) {
    for (const keysOnly of [false, true]) {
      const result = await coffre(['check', '--format', format, ...(keysOnly ? ['--keys-only'] : [])], env, root);
      t.ok(result.stdout.length > 100, `${format}${keysOnly ? ' keys-only' : ''} printed a report`);
      outputs.push(result.stdout, result.stderr);
    }
  }
  const all = outputs.join('\n');
  t.match(all, /DB_PASS|PAD_EXTRA/, 'key names are there');
  for (const [name, value] of Object.entries(canaries)) t.notOk(all.includes(value), `${name} never printed`);
  t.notOk(all.includes('not-encrypted'), 'the clear value of the unencrypted file is never printed');
  t.notOk(all.includes(bao.rootToken), 'the token is never printed');
});
