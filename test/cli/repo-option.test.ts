// End to end on the demo repo (examples/infra, its demo-only age key named in its coffre.yaml): positionals
// are services, the repo comes from cwd, `-C DIR` or COFFRE_REPO, the old `<cmd> REPO_DIR` form still works
// with a note, and with --format json|junit a fatal error still prints a document an independent parser reads.
import { execFile } from 'node:child_process';
import { cp } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { runCli } from '../../src/cli/main.js';
import { projectRoot } from '../support/tools.js';

const exec = promisify(execFile);
const demo = path.join(projectRoot, 'examples', 'infra');
const bin = path.join(projectRoot, 'bin', 'coffre.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function coffre(argv: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env, cwd });
  return { code, stdout, stderr };
}

/** The built binary, with an environment holding no age key (only the repo's coffre.yaml can name one). */
async function coffreBin(argv: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  return exec(process.execPath, [bin, ...argv], { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

const servicesOf = (run: Run): string[] => JSON.parse(run.stdout).services.map((s: { name: string }) => s.name);

/** Parses XML with Python's expat (strict: any well-formedness error fails) and returns what a CI would read. */
async function readJunit(xml: string): Promise<{ root: string; cases: Array<{ name: string; errorType: string; message: string }> }> {
  const script = [
    'import sys, json, xml.dom.minidom',
    'doc = xml.dom.minidom.parseString(sys.stdin.buffer.read())',
    'cases = [{"name": c.getAttribute("name"), "errorType": e.getAttribute("type"), "message": e.getAttribute("message")}',
    '         for c in doc.getElementsByTagName("testcase") for e in c.getElementsByTagName("error")]',
    'print(json.dumps({"root": doc.documentElement.tagName, "cases": cases}))',
  ].join('\n');
  const child = execFile('python3', ['-c', script]);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: string) => (out += d));
  child.stderr?.on('data', (d: string) => (err += d));
  child.stdin?.end(xml);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`not well-formed XML (python3 exit ${code}): ${err}`);
  return JSON.parse(out);
}

t.test('`coffre check mattermost` from the repo root checks only that service, with the repo coffre.yaml', async (t) => {
  const run = await coffre(['check', 'mattermost', '--format', 'json'], demo);
  t.equal(run.code, 0, run.stderr);
  t.same(servicesOf(run), ['mattermost']);
  t.ok(JSON.parse(run.stdout).services[0].files.every((f: { status: string }) => f.status === 'complete'), 'values decrypted with the demo key named in coffre.yaml');
  t.equal(run.stderr, '', 'no deprecation note');
  // The built binary, same thing (and `check` without a format, in text).
  const built = await coffreBin(['check', 'mattermost'], demo);
  t.equal(built.code, 0, built.stderr);
  t.match(built.stdout, /^mattermost\n/);
  t.notMatch(built.stdout, /etherpad|website/);
});

t.test('-C DIR before or after the command, --repo, and COFFRE_REPO name the repo; positionals stay services', async (t) => {
  for (const argv of [
    ['-C', 'examples/infra', 'check', 'website', '--format', 'json'],
    ['check', '-C', 'examples/infra', '--format=json', 'website'],
    ['check', '--repo=examples/infra', '-f', 'json', '-s=website'],
    ['-C', 'examples', '-C', 'infra', 'check', '--service', 'website', '--format', 'json'],
  ]) {
    const run = await coffre(argv, projectRoot);
    t.equal(run.code, 0, `${argv.join(' ')}: ${run.stderr}`);
    t.same(servicesOf(run), ['website'], argv.join(' '));
    t.equal(run.stderr, '', 'no note');
  }
  const env = await coffre(['check', 'mattermost', '--service', 'website', '--format', 'json'], projectRoot, { COFFRE_REPO: 'examples/infra' });
  t.equal(env.code, 0, env.stderr);
  t.same(servicesOf(env), ['mattermost', 'website'], 'COFFRE_REPO, a positional and a --service');
  const both = await coffre(['check', '--service', 'mattermost,website', '--format', 'json'], projectRoot, { COFFRE_REPO: path.join(projectRoot, 'nowhere'), HOME: '/nonexistent' });
  t.equal(both.code, 2);
  t.match(both.stderr, /COFFRE_USAGE: COFFRE_REPO=.*nowhere: no such directory/);
  const flagWins = await coffre(['-C', 'examples/infra', 'check', '-s', 'mattermost,website', '--format', 'json'], projectRoot, { COFFRE_REPO: 'nowhere' });
  t.equal(flagWins.code, 0, flagWins.stderr);
  t.same(servicesOf(flagWins), ['mattermost', 'website'], '--service a,b; -C wins over COFFRE_REPO');
});

t.test('-C into a service folder acts as if started there: check takes that service', async (t) => {
  const inService = await coffre(['-C', 'examples/infra/etherpad', 'check', '--format', 'json'], projectRoot);
  t.equal(inService.code, 1, 'etherpad is incomplete');
  t.same(servicesOf(inService), ['etherpad']);
  const all = await coffre(['-C', 'examples/infra/etherpad', 'check', '--all', '--format', 'json'], projectRoot);
  t.same(servicesOf(all), ['etherpad', 'mattermost', 'website'], '--all from a service folder');
  const missing = await coffre(['-C', 'examples/nope', 'check'], projectRoot);
  t.equal(missing.code, 2);
  t.match(missing.stderr, 'COFFRE_USAGE: -C examples/nope: no such directory');
});

t.test('the old `coffre <cmd> REPO_DIR` form still works when unambiguous, with a deprecation note', async (t) => {
  const old = await coffre(['check', 'examples/infra', '--format', 'json'], projectRoot);
  t.equal(old.code, 1, 'the demo: etherpad incomplete');
  t.same(servicesOf(old), ['etherpad', 'mattermost', 'website']);
  t.match(old.stderr, /^coffre: note: "coffre <command> REPO_DIR" is deprecated; use -C: coffre -C examples\/infra/);
  const oldWithService = await coffreBin(['check', 'examples/infra', 'website', '--format', 'json'], projectRoot);
  t.equal(oldWithService.code, 0, oldWithService.stderr);
  t.same(servicesOf(oldWithService), ['website']);
  t.match(oldWithService.stderr, /deprecated/);
  // versions: REPO_DIR only with three positionals.
  const versions = await coffre(['versions', 'examples/infra', 'website', 'deploy', '--format', 'json'], projectRoot);
  t.equal(versions.code, 0, versions.stderr);
  t.match(JSON.parse(versions.stdout), { service: 'website', file: 'deploy', source: { kind: 'sops' } });
  t.match(versions.stderr, /deprecated/);
  // rotate: REPO_DIR only with four positionals (here on a copy: it writes the sops file).
  const dir = t.testdir();
  await cp(demo, dir, { recursive: true });
  const rotated = await coffre(['rotate', path.basename(dir), 'website/', 'deploy', 'WEBHOOK_TOKEN', '--generate', '--format', 'json'], path.dirname(dir));
  t.equal(rotated.code, 0, rotated.stderr);
  t.match(JSON.parse(rotated.stdout), { action: 'rotate', service: 'website', key: 'WEBHOOK_TOKEN', changed: true });
  t.match(rotated.stderr, /^coffre: note: .*deprecated/);
  const versionsNew = await coffre(['-C', 'examples/infra', 'versions', 'website', 'deploy'], projectRoot);
  t.equal(versionsNew.code, 0, versionsNew.stderr);
  t.equal(versionsNew.stderr, '');
});

t.test('a folder that is also a service of the repo found from cwd is a service, not an old REPO_DIR', async (t) => {
  const dir = t.testdir();
  await cp(demo, dir, { recursive: true });
  // website gets a .git of its own (a submodule, say): still the service `website` of the repo at the root.
  await exec('git', ['init', '-q', path.join(dir, 'website')]);
  const run = await coffre(['check', 'website', '--format', 'json'], dir);
  t.equal(run.code, 0, run.stderr);
  t.same(servicesOf(run), ['website']);
  t.equal(run.stderr, '', 'no note: not read as REPO_DIR');
  const rotate = await coffre(['-C', dir, 'rotate', 'website', 'deploy', 'WEBHOOK_TOKEN', 'extra', '--generate'], projectRoot);
  t.equal(rotate.code, 2);
  t.match(rotate.stderr, /coffre rotate takes 3 names \(<service> <file> <KEY>\), got 4; name the repo with -C DIR/);
});

t.test('--format json: a fatal error still prints a JSON document on stdout, exit code unchanged', async (t) => {
  const bad = t.testdir({ 'coffre.yaml': 'version: 2\n' });
  const cases: Array<{ name: string; argv: string[]; cwd: string; code: number; error: string }> = [
    { name: 'unknown service', argv: ['check', 'nope', '--format', 'json'], cwd: demo, code: 2, error: 'COFFRE_SERVICE_UNKNOWN' },
    { name: 'invalid coffre.yaml', argv: ['-C', bad, 'check', '--format', 'json'], cwd: projectRoot, code: 2, error: 'COFFRE_CONFIG_INVALID' },
    { name: 'a usage error after --format', argv: ['check', '--format', 'json', '--fromat', 'junit'], cwd: demo, code: 2, error: 'COFFRE_USAGE' },
    { name: 'render of an unknown service', argv: ['render', 'nope', '-f', 'json'], cwd: demo, code: 2, error: 'COFFRE_SERVICE_UNKNOWN' },
    { name: 'render --all with a name', argv: ['render', 'website', '--all', '--format=json'], cwd: demo, code: 2, error: 'COFFRE_USAGE' },
    { name: 'rotate with a missing name', argv: ['rotate', 'website', 'deploy', '--generate', '--format', 'json'], cwd: demo, code: 2, error: 'COFFRE_USAGE' },
    { name: 'versions of an unknown file', argv: ['versions', 'website', 'nope', '--format', 'json'], cwd: demo, code: 2, error: 'COFFRE_USAGE' },
  ];
  for (const c of cases) {
    const run = await coffre(c.argv, c.cwd);
    t.equal(run.code, c.code, `${c.name}: exit code`);
    const doc = JSON.parse(run.stdout);
    t.same(Object.keys(doc).sort(), ['error', 'version'], c.name);
    t.equal(doc.version, 1);
    t.equal(doc.error.code, c.error, c.name);
    t.type(doc.error.message, 'string');
    t.match(run.stderr, `coffre: ${c.error}: `, `${c.name}: the stderr line too`);
  }
  const text = await coffre(['check', 'nope'], demo);
  t.equal(text.stdout, '', 'no document in text format');
});

t.test('Vault unreachable in rotate --format json: a JSON error document, exit 3, and the attempt audited', async (t) => {
  const dir = t.testdir({
    'coffre.yaml': 'version: 1\nvault:\n  prefix: demo\n',
    app: { 'docker-compose.yml': 'services:\n  app:\n    image: x\n    env_file: ./secrets/app.secrets\n', secrets: { 'app.secrets.example': 'APP_KEY=changeme\n' } },
  });
  const run = await coffre(['rotate', 'app', 'app', 'APP_KEY', '--generate', '--format', 'json'], dir, { VAULT_ADDR: 'http://127.0.0.1:9', VAULT_TOKEN: 'hvs.not-used' });
  t.equal(run.code, 3, run.stderr);
  t.match(JSON.parse(run.stdout), { version: 1, error: { code: 'COFFRE_SOURCE_UNREACHABLE' } });
  t.match(run.stderr, /^audit: .*"errorCode":"COFFRE_SOURCE_UNREACHABLE"/m, 'a write attempt that reached for the source is audited');
});

t.test('rotate/set refused as usage errors write no audit line', async (t) => {
  const dir = t.testdir();
  await cp(demo, dir, { recursive: true });
  for (const [argv, code] of [
    [['rotate', 'website', 'nope', 'WEBHOOK_TOKEN', '--generate'], 'COFFRE_USAGE'],
    [['rotate', 'nope', 'deploy', 'WEBHOOK_TOKEN', '--generate'], 'COFFRE_SERVICE_UNKNOWN'],
    [['set', 'website', 'deploy', 'NOT_IN_EXAMPLE', '--generate'], 'COFFRE_USAGE'],
    [['set', 'website', 'deploy', 'WEBHOOK_TOKEN', '--generate'], 'COFFRE_USAGE'],
    [['rollback', 'website', 'deploy', '--to', '1'], 'COFFRE_USAGE'],
  ] as const) {
    const run = await coffre([...argv], dir);
    t.equal(run.code, 2, argv.join(' '));
    t.match(run.stderr, `coffre: ${code}: `);
    t.notMatch(run.stderr, /audit:/, `${argv.join(' ')}: no audit line`);
  }
});

t.test('--format junit: a fatal error is a testsuites document with one errored test case', async (t) => {
  for (const [argv, code, cwd, built] of [
    [['check', 'nope', '--format', 'junit'], 'COFFRE_SERVICE_UNKNOWN', demo, true],
    [['check', '--format=junit', '--keys-only', '--service', 'a<b>&"c\''], 'COFFRE_SERVICE_UNKNOWN', demo, false],
    [['-C', t.testdir({ 'coffre.yaml': 'version: 1\nnope: [\n' }), 'check', '-f', 'junit'], 'COFFRE_CONFIG_INVALID', projectRoot, false],
  ] as const) {
    const run = built ? await coffreBin([...argv], cwd) : await coffre([...argv], cwd);
    t.equal(run.code, 2);
    const junit = await readJunit(run.stdout);
    t.equal(junit.root, 'testsuites');
    t.equal(junit.cases.length, 1);
    t.match(junit.cases[0], { name: code, errorType: code });
    t.ok((junit.cases[0]?.message.length ?? 0) > 0, 'the message is carried');
  }
  const escaped = await readJunit((await coffre(['check', '-f', 'junit', '-s', 'a<b>&"c\''], demo)).stdout);
  t.match(escaped.cases[0]?.message, 'no service "a<b>&"c\'"', 'special characters survive the escaping');
});

t.test('help <cmd> prints <cmd> --help; -V prints the version; a typo gets a suggestion', async (t) => {
  const help = await coffre(['help', 'check'], projectRoot);
  const flag = await coffre(['check', '--help'], projectRoot);
  t.equal(help.code, 0);
  t.equal(help.stdout, flag.stdout);
  t.match(help.stdout, /^usage: coffre \[-C DIR\] check/);
  t.same(await coffre(['-V'], projectRoot), await coffre(['--version'], projectRoot));
  t.match((await coffre(['-V'], projectRoot)).stdout, /^coffre \d+\.\d+\.\d+\n$/);
  const typo = await coffreBin(['check', '--fromat', 'json'], demo);
  t.equal(typo.code, 2);
  t.match(typo.stderr, 'unknown option --fromat for coffre check; did you mean --format?');
});

t.test('serve: the old positional REPO_DIR is read as -C, with a note; with -C it is refused', async (t) => {
  // No tokens file and no --insecure-no-auth: serve stops at its usage check, after reading the repo option.
  const old = await coffre(['serve', 'examples/infra', '--insecure-no-auth', '--listen', '0.0.0.0:0'], projectRoot);
  t.equal(old.code, 2);
  t.match(old.stderr, /deprecated; use -C: coffre -C examples\/infra/);
  const both = await coffre(['serve', '-C', 'examples/infra', 'examples/infra'], projectRoot);
  t.equal(both.code, 2);
  t.match(both.stderr, /serve takes no positional argument/);
});
