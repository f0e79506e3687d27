// Issue 10 item 8: EXAMPLE_UNREFERENCED is not raised for config templates (even in a secrets/ folder); the
// remaining warnings can be silenced per code and path in coffre.yaml, and silenced ones are counted.
import t from 'tap';
import { classifyExample } from '../../src/repo/example-kind.js';
import { silenceWarnings } from '../../src/use-cases/check.js';
import { runCoffre } from '../support/run-cli.js';

const repo = (config: string) => ({
  'coffre.yaml': config,
  svc: {
    'docker-compose.yml': 'services:\n  app:\n    image: app\n    env_file: secrets/app.secrets\n',
    'config.php.dist': '<?php return [];\n',
    'nginx.conf.sample': 'server {}\n',
    secrets: {
      'app.secrets.example': 'A=\n',
      'settings.json.example': '{}\n',
      'ldap.yml.dist': 'x: 1\n',
      'old.secrets.example': 'OLD=\n',
      'token.txt.example': 'T=\n',
    },
  },
});

t.test('config templates are never unreferenced examples; env examples still are', async (t) => {
  const dir = t.testdir(repo('# defaults\n'));
  const result = await runCoffre(['-C', dir, 'check', '--format', 'json'], {});
  const report = JSON.parse(result.stdout);
  t.same(
    report.problems.filter((p: { code: string }) => p.code === 'EXAMPLE_UNREFERENCED').map((p: { file: string }) => p.file),
    ['svc/secrets/old.secrets.example', 'svc/secrets/token.txt.example'],
  );
  t.equal(report.summary.warningsSilenced, undefined, 'nothing silenced, no count');
});

t.test('classifyExample: first matching rule wins', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['db.secrets', 'secrets', 'env'],
    ['.env.php', '', 'env'],
    ['config.php', 'secrets', 'config-template'],
    ['nginx.conf', '', 'config-template'],
    ['token.txt', 'secrets', 'env'],
    ['README', '', 'other'],
  ];
  for (const [stem, dir, kind] of cases) t.equal(classifyExample(stem, dir), kind, `${dir}/${stem}`);
});

t.test('warnings.ignore silences by code and path glob, counts them, and never hides an error', async (t) => {
  const dir = t.testdir(repo('warnings:\n  ignore:\n    - { code: EXAMPLE_UNREFERENCED, path: "svc/secrets/old.*" }\n    - { path: "**/token.txt.example" }\n'));
  const json = await runCoffre(['-C', dir, 'check', '--format', 'json'], {});
  const report = JSON.parse(json.stdout);
  t.same(report.problems, [], 'both warnings silenced');
  t.equal(report.summary.warningsSilenced, 2, 'and counted');
  const text = await runCoffre(['-C', dir, 'check'], {});
  t.match(text.stdout, /; 2 warnings silenced by coffre\.yaml\n/);

  const problems = [
    { severity: 'warning' as const, code: 'EXAMPLE_UNREFERENCED', file: 'a/x.env.example', message: 'm' },
    { severity: 'error' as const, code: 'COFFRE_COMPOSE_INVALID', file: 'a/docker-compose.yml', message: 'm' },
    { severity: 'warning' as const, code: 'COFFRE_COMPOSE_INVALID', file: 'b/docker-compose.yml', message: 'm' },
  ];
  const { kept, silenced } = silenceWarnings(problems, [{ path: '**' }]);
  t.same(kept.map((p) => p.severity), ['error'], 'an error is kept even when a rule matches its file');
  t.equal(silenced, 2);
  t.equal(silenceWarnings(problems, [{ code: 'EXAMPLE_UNREFERENCED', path: 'b/**' }]).silenced, 0, 'code and path must both match');
});

t.test('a warnings.ignore entry with an unknown code or nothing to match is refused with its line', async (t) => {
  const bad = t.testdir({ 'coffre.yaml': 'warnings:\n  ignore:\n    - { code: EXAMPLE_UNREFERNCED }\n' });
  const result = await runCoffre(['-C', bad, 'check'], {});
  t.equal(result.code, 2);
  t.match(result.stderr, /coffre\.yaml:3: warnings\.ignore\[0\]\.code: not a known warning or error code/);
  const empty = t.testdir({ 'coffre.yaml': 'warnings:\n  ignore:\n    - {}\n' });
  t.match((await runCoffre(['-C', empty, 'check'], {})).stderr, /coffre\.yaml:3: warnings\.ignore\[0\]: give "code", "path" or both/);
});
