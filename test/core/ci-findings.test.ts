// The CI findings behind --format sarif|gitlab, as pure functions: levels per status, fingerprints that ignore
// lines and messages but tell apart two findings of one rule in one file, URIs percent-encoded per segment.
import t from 'tap';
import { findingsOf } from '../../src/core/ci-findings.js';
import { gitlabIssuesOf } from '../../src/core/gitlab-report.js';
import { summarize, type CheckReport, type FileResult, type ServiceResult } from '../../src/core/report.js';
import { relativeUri } from '../../src/core/sarif.js';

function reportOf(services: ServiceResult[]): CheckReport {
  return { version: 1, complete: false, keysOnly: false, services, problems: [], summary: summarize(services) };
}

function file(keys: FileResult['keys'], warnings: FileResult['warnings'] = []): FileResult {
  return { example: 'svc/a b.secrets.example', target: 'svc/a b.secrets', source: { kind: 'vault', ref: 'secret/svc/a' }, status: 'incomplete', keys, warnings };
}

t.test('levels: required keys not ready are errors, optional and extra keys notes, example warnings warnings', async (t) => {
  const report = reportOf([
    {
      name: 'svc',
      files: [
        file(
          [
            { name: 'A', status: 'missing', line: 1, optional: false },
            { name: 'B', status: 'empty', line: 2, optional: false },
            { name: 'C', status: 'placeholder', line: 3, optional: false },
            { name: 'D', status: 'missing', line: 4, optional: true },
            { name: 'E', status: 'extra', line: null, optional: false },
            { name: 'F', status: 'ok', line: 5, optional: false },
          ],
          [{ line: 6, message: 'G=   # comment: compose reads the comment as the value' }],
        ),
      ],
    },
  ]);
  t.same(
    findingsOf(report).map((f) => [f.rule, f.level, f.key ?? null, f.line ?? null]),
    [
      ['missing', 'error', 'A', 1],
      ['empty', 'error', 'B', 2],
      ['placeholder', 'error', 'C', 3],
      ['missing', 'note', 'D', 4],
      ['extra', 'note', 'E', null],
      ['example-warning', 'warning', null, 6],
    ],
  );
});

t.test('fingerprints: the same for a moved line or another message, distinct for two keyless findings of one rule and file', async (t) => {
  const at = (line: number, message: string) =>
    findingsOf(reportOf([{ name: 'svc', files: [file([{ name: 'A', status: 'missing', line, optional: false }], [{ line: 9, message }, { line: 12, message: 'other' }])] }]));
  const before = at(1, 'one wording');
  const after = at(7, 'another wording');
  t.same(after.map((f) => f.fingerprint), before.map((f) => f.fingerprint), 'lines and messages do not count');
  t.equal(new Set(before.map((f) => f.fingerprint)).size, before.length, 'all distinct');
  const missingB = findingsOf(reportOf([{ name: 'svc', files: [file([{ name: 'B', status: 'missing', line: 1, optional: false }])] }]));
  t.not(missingB[0]!.fingerprint, before[0]!.fingerprint, 'the key name counts');
  const issues = gitlabIssuesOf(reportOf([{ name: 'svc', files: [file([{ name: 'A', status: 'missing', line: 1, optional: false }])] }]), { rootPrefix: 'infra/' });
  t.equal(issues[0]!.location.path, 'infra/svc/a b.secrets.example', 'GitLab paths are relative to the git top');
  t.not(issues[0]!.fingerprint, before[0]!.fingerprint, 'the prefix counts: two coffre repos in one git repository never share one');
});

t.test('SARIF URIs are relative references, each segment percent-encoded', async (t) => {
  t.equal(relativeUri('', 'svc/a b.secrets.example'), 'svc/a%20b.secrets.example');
  t.equal(relativeUri('my infra/', 'x/#1?.env'), 'my%20infra/x/%231%3F.env');
});
