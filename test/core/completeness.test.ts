// The completeness diff of an example against what a source holds (values or key names only).
import t from 'tap';
import { diffCompleteness, fileStatusOf, type KeyReport } from '../../src/core/completeness.js';
import { parseExample } from '../../src/core/example.js';
import type { KeyListing, KeyPresence, ValueSnapshot } from '../../src/sources/secret-source.js';

const example = parseExample(
  [
    'DB_USER=ephios', //                        1
    'DB_PASSWORD=changeme', //                  2
    'API_TOKEN=', //                            3
    '# @allow-empty', //                        4
    'SMTP_PASSWORD=', //                        5
    '# @optional', //                           6
    'SENTRY_DSN=', //                           7
    '# TANDOOR_PORT=8080', //                   8
    'DSN=postgres://u:${DB_PASSWORD}@db', //    9
  ].join('\n') + '\n',
  'svc/app.secrets.example',
);

const snapshot = (values: Record<string, string>): ValueSnapshot => ({ values: new Map(Object.entries(values)) });
const listing = (keys: Record<string, KeyPresence>): KeyListing => ({ keys: new Map(Object.entries(keys)) });
const statusOf = (reports: KeyReport[], name: string) => reports.find((r) => r.name === name);

t.test('with values: one status per example key', async (t) => {
  const cases: Array<{ name: string; key: string; value: string | undefined; status: KeyReport['status'] }> = [
    { name: 'a missing key is missing', key: 'API_TOKEN', value: undefined, status: 'missing' },
    { name: 'an empty value is empty', key: 'API_TOKEN', value: '', status: 'empty' },
    { name: 'an empty value under @allow-empty is ok', key: 'SMTP_PASSWORD', value: '', status: 'ok' },
    { name: 'the example placeholder kept as is is a placeholder', key: 'DB_PASSWORD', value: 'changeme', status: 'placeholder' },
    { name: 'a stored value that looks like a placeholder is a placeholder', key: 'API_TOKEN', value: '<your token>', status: 'placeholder' },
    { name: 'the example default kept as is is ok when it is no placeholder', key: 'DB_USER', value: 'ephios', status: 'ok' },
    { name: 'a real value is ok', key: 'DB_PASSWORD', value: 'Zk9q!x-long-random', status: 'ok' },
    { name: 'a missing optional key is missing but optional', key: 'SENTRY_DSN', value: undefined, status: 'missing' },
    { name: 'a missing commented-out key is missing but optional', key: 'TANDOOR_PORT', value: undefined, status: 'missing' },
    { name: 'a template value equal to the example is ok', key: 'DSN', value: 'postgres://u:${DB_PASSWORD}@db', status: 'ok' },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const reports = diffCompleteness(example, snapshot(c.value === undefined ? {} : { [c.key]: c.value }));
      const report = statusOf(reports, c.key);
      t.equal(report?.status, c.status);
      t.equal(report?.line, example.keys.find((k) => k.name === c.key)!.line);
    });
  }
});

t.test('with key names only: empty presence is empty, set and unknown are ok', async (t) => {
  const reports = diffCompleteness(
    example,
    listing({ DB_USER: 'set', DB_PASSWORD: 'unknown', API_TOKEN: 'empty', SMTP_PASSWORD: 'empty', DSN: 'set', STRAY: 'unknown' }),
  );
  t.same(
    reports.map((r) => [r.name, r.status, r.line, r.optional]),
    [
      ['DB_USER', 'ok', 1, false],
      ['DB_PASSWORD', 'ok', 2, false],
      ['API_TOKEN', 'empty', 3, false],
      ['SMTP_PASSWORD', 'ok', 5, false],
      ['SENTRY_DSN', 'missing', 7, true],
      ['TANDOOR_PORT', 'missing', 8, true],
      ['DSN', 'ok', 9, false],
      ['STRAY', 'extra', null, false],
    ],
  );
});

t.test('stored keys the example does not declare are extra, in store order; commented-out keys are not extra', async (t) => {
  const reports = diffCompleteness(example, snapshot({ ZED: '1', TANDOOR_PORT: '8080', ALPHA: '2' }));
  t.same(reports.filter((r) => r.status === 'extra').map((r) => [r.name, r.line]), [['ZED', null], ['ALPHA', null]]);
  t.equal(statusOf(reports, 'TANDOOR_PORT')?.status, 'ok');
});

t.test('fileStatusOf ignores optional and extra keys', async (t) => {
  const complete = snapshot({ DB_USER: 'ephios', DB_PASSWORD: 'real-secret-1', API_TOKEN: 'tok-123', SMTP_PASSWORD: '', DSN: 'x', EXTRA: 'e' });
  t.equal(fileStatusOf(diffCompleteness(example, complete)), 'complete');
  const placeholder = snapshot({ DB_USER: 'ephios', DB_PASSWORD: 'changeme', API_TOKEN: 'tok-123', SMTP_PASSWORD: '', DSN: 'x' });
  t.equal(fileStatusOf(diffCompleteness(example, placeholder)), 'incomplete');
  t.equal(fileStatusOf(diffCompleteness(example, snapshot({}))), 'incomplete');
  t.equal(fileStatusOf([]), 'complete');
});
