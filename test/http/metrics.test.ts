// /metrics on prom-client: a registry per app (never the global one), default process metrics, build info,
// per-route request histograms labelled by route pattern and status class, render and secret-write outcomes,
// Vault request latency and errors per class (reported by the transport through the observer the shell
// passes in), all in a text exposition that a strict parser of the Prometheus text format 0.0.4 accepts.
import { register as globalRegistry } from 'prom-client';
import t from 'tap';
import { createServerMetrics } from '../../src/http/metrics.js';
import { vaultOperationOf } from '../../src/sources/vault-transport.js';
import { openWorkspace } from '../../src/use-cases/workspace.js';
import { bearer, makeHttpFixture } from './http-fixture.js';

/** One sample line: name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/**
 * Parses the Prometheus text format 0.0.4 strictly: HELP/TYPE before a family's samples, one TYPE per
 * family, valid names, label values quoted with only \\ \" \n escapes, float values, no duplicate series,
 * histogram buckets cumulative and ending with +Inf = _count. Throws on the first violation, naming the line.
 */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  if (!text.endsWith('\n')) throw new Error('the exposition does not end with a line feed');
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  const lines = text.slice(0, -1).split('\n');
  lines.forEach((line, index) => {
    const where = `line ${index + 1}: ${line}`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
      if (!match) {
        if (/^# (HELP|TYPE)\b/.test(line)) throw new Error(`malformed ${where}`);
        return; // a plain comment
      }
      const [, kind, name, rest] = match as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name, ${where}`);
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`unknown type, ${where}`);
        if (types.has(name)) throw new Error(`second TYPE, ${where}`);
        if (samples.some((s) => familyOf(s.name, types) === name)) throw new Error(`TYPE after samples, ${where}`);
        types.set(name, rest);
      } else {
        if (helps.has(name)) throw new Error(`second HELP, ${where}`);
        if (!/^(?:[^\\]|\\[\\n])*$/.test(rest)) throw new Error(`bad escape in HELP, ${where}`);
        helps.add(name);
      }
      return;
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
    if (!match) throw new Error(`malformed sample, ${where}`);
    const [, name, , labelText, valueText] = match as unknown as [string, string, string | undefined, string | undefined, string];
    const labels: Record<string, string> = {};
    if (labelText !== undefined && labelText !== '') {
      const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
      let position = 0;
      while (position < labelText.length) {
        label.lastIndex = position;
        const l = label.exec(labelText);
        if (!l) throw new Error(`malformed labels, ${where}`);
        const [, labelName, raw] = l as unknown as [string, string, string];
        if (!LABEL_NAME.test(labelName) || labelName in labels) throw new Error(`bad or repeated label ${labelName}, ${where}`);
        labels[labelName] = raw.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
        position = label.lastIndex;
      }
    }
    // Go's ParseFloat forms, as the format specifies: decimals, exponents, and NaN / Inf case-insensitively.
    if (!/^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|[+-]?inf(?:inity)?|nan)$/i.test(valueText)) throw new Error(`bad value, ${where}`);
    const family = familyOf(name, types);
    if (family === null) throw new Error(`sample before its TYPE, ${where}`);
    const key = `${name}{${Object.entries(labels).sort().map(([k, v]) => `${k}=${v}`).join(',')}}`;
    if (seen.has(key)) throw new Error(`duplicate series, ${where}`);
    seen.add(key);
    samples.push({ name, labels, value: /^\+?inf/i.test(valueText) ? Infinity : /^-inf/i.test(valueText) ? -Infinity : Number(valueText) });
  });
  // Histograms: per series, buckets non-decreasing in le order, +Inf present and equal to _count.
  for (const [family, type] of types) {
    if (type !== 'histogram') continue;
    const series = new Map<string, Sample[]>();
    for (const s of samples.filter((s) => s.name === `${family}_bucket`)) {
      const { le, ...rest } = s.labels;
      if (le === undefined) throw new Error(`${family}_bucket without le`);
      const key = JSON.stringify(Object.entries(rest).sort());
      series.set(key, [...(series.get(key) ?? []), s]);
    }
    for (const [key, buckets] of series) {
      const ordered = [...buckets].sort((a, b) => Number(a.labels.le === '+Inf' ? Infinity : a.labels.le) - Number(b.labels.le === '+Inf' ? Infinity : b.labels.le));
      for (let i = 1; i < ordered.length; i++) if (ordered[i]!.value < ordered[i - 1]!.value) throw new Error(`${family} buckets not cumulative for ${key}`);
      const last = ordered.at(-1)!;
      if (last.labels.le !== '+Inf') throw new Error(`${family} has no +Inf bucket for ${key}`);
      const count = samples.find((s) => s.name === `${family}_count` && JSON.stringify(Object.entries(s.labels).sort()) === key);
      if (!count || count.value !== last.value) throw new Error(`${family}_count differs from its +Inf bucket for ${key}`);
      if (!samples.some((s) => s.name === `${family}_sum` && JSON.stringify(Object.entries(s.labels).sort()) === key)) throw new Error(`${family}_sum missing for ${key}`);
    }
  }
  return { types, samples };
}

/** The family a sample name belongs to (histogram/summary suffixes), or null when none was declared. */
function familyOf(name: string, types: Map<string, string>): string | null {
  if (types.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return base !== name && (types.get(base) === 'histogram' || types.get(base) === 'summary') ? base : null;
}

function find(samples: Sample[], name: string, labels: Record<string, string>): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

t.test('the strict parser refuses what the format forbids', async (t) => {
  const bad = [
    'x 1', // no trailing LF
    '# TYPE x gauge\nx NaNa\n',
    'x 1\n', // sample before TYPE
    '# TYPE x counter\nx{a="b} 1\n',
    '# TYPE x counter\nx{a="\\t"} 1\n',
    '# TYPE x counter\nx one\n',
    '# TYPE x counter\n# TYPE x counter\n',
    '# TYPE x counter\nx{a="1"} 1\nx{a="1"} 2\n',
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
  ];
  for (const text of bad) t.throws(() => parseExposition(text), JSON.stringify(text));
  t.doesNotThrow(() => parseExposition('# HELP x a \\\\ b\n# TYPE x counter\nx{a="q\\"\\n\\\\"} 1.5e3\n\n'));
});

const fixture = await makeHttpFixture(t);

t.test('GET /metrics: default process metrics, build info, per-route histograms by status class, outcomes; strict format', async (t) => {
  const app = fixture.app({ build: { version: '9.8.7', node: '20.1.2' } });
  t.teardown(() => app.close());
  await app.inject({ url: '/v1/services', headers: bearer(fixture.tokens.check) });
  await app.inject({ url: '/v1/services/nope-raw-url/check', headers: bearer(fixture.tokens.check) });
  await app.inject({ url: '/v1/nothing-raw-url' });
  await app.inject({ method: 'POST', url: '/v1/services/chat/render', headers: bearer(fixture.tokens.render), payload: { dryRun: true } });
  await app.inject({ method: 'PUT', url: '/v1/services/nope/secrets/db/keys/A', headers: bearer(fixture.tokens.admin), payload: { generate: {} } });
  const response = await app.inject({ url: '/metrics' });
  t.equal(response.statusCode, 200);
  t.match(response.headers['content-type'], /^text\/plain; version=0\.0\.4; charset=utf-8$/);
  const { types, samples } = parseExposition(response.body);
  for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
    t.ok(types.has(name), `default metric ${name}`);
  }
  t.same(find(samples, 'coffre_build_info', {}).map((s) => [s.labels, s.value]), [[{ version: '9.8.7', node: '20.1.2' }, 1]]);
  t.equal(types.get('coffre_http_request_duration_seconds'), 'histogram');
  t.equal(find(samples, 'coffre_http_request_duration_seconds_count', { method: 'GET', route: '/v1/services', status_class: '2xx' })[0]?.value, 1);
  t.equal(find(samples, 'coffre_http_request_duration_seconds_count', { method: 'GET', route: '/v1/services/:service/check', status_class: '4xx' })[0]?.value, 1);
  t.equal(find(samples, 'coffre_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })[0]?.value, 1);
  t.equal(find(samples, 'coffre_renders_total', { outcome: 'planned' })[0]?.value, 1);
  t.equal(find(samples, 'coffre_secret_writes_total', { action: 'rotate', outcome: 'error' })[0]?.value, 1);
  t.notMatch(response.body, /raw-url|nope/, 'labels are route patterns, never raw URLs');
  for (const s of samples.filter((s) => s.name.startsWith('coffre_http_request_duration'))) t.match(s.labels.status_class, /^[1-5]xx$/);
});

t.test('a successful rotation is counted by action and outcome', async (t) => {
  const adminVaultToken = await fixture.bao.tokenWithPolicies(['coffre-admin']);
  const app = fixture.app({ openWorkspace: (scope) => openWorkspace({ root: fixture.dir, env: { ...fixture.env, VAULT_TOKEN: adminVaultToken }, ...(scope?.services ? { services: scope.services } : {}) }) });
  t.teardown(() => app.close());
  const put = await app.inject({ method: 'PUT', url: '/v1/services/wiki/secrets/wiki/keys/WIKI_MISSING', headers: bearer(fixture.tokens.admin), payload: { generate: {} } });
  t.equal(put.statusCode, 200, put.body);
  const { samples } = parseExposition((await app.inject({ url: '/metrics' })).body);
  t.equal(find(samples, 'coffre_secret_writes_total', { action: 'rotate', outcome: 'changed' })[0]?.value, 1);
});

t.test('every app has its own registry; prom-client\'s global registry stays empty', async (t) => {
  const one = fixture.app();
  const two = fixture.app();
  t.teardown(() => Promise.all([one.close(), two.close()]));
  await one.inject({ url: '/healthz' });
  await one.inject({ url: '/healthz' });
  const countIn = async (app: typeof one) => find(parseExposition((await app.inject({ url: '/metrics' })).body).samples, 'coffre_http_requests_total', { route: '/healthz' })[0]?.value ?? 0;
  t.equal(await countIn(one), 2);
  t.equal(await countIn(two), 0);
  t.equal((await globalRegistry.getMetricsAsJSON()).length, 0, 'nothing registered globally');
});

t.test('Vault requests: latency by operation and outcome, errors per class, through the observer handed to the workspace', async (t) => {
  const metrics = createServerMetrics({ build: { version: 't', node: 't' }, processMetrics: false });
  const app = fixture.app({
    metrics,
    openWorkspace: (scope) => openWorkspace({ root: fixture.dir, env: fixture.env, vaultObserver: metrics.vaultObserver, ...(scope?.services ? { services: scope.services } : {}) }),
  });
  t.teardown(() => app.close());
  t.equal((await app.inject({ url: '/v1/check?keysOnly=true', headers: bearer(fixture.tokens.check) })).statusCode, 200);
  t.equal((await app.inject({ url: '/v1/check', headers: bearer(fixture.tokens.check) })).statusCode, 200);
  let { samples } = parseExposition((await app.inject({ url: '/metrics' })).body);
  t.ok((find(samples, 'coffre_vault_request_duration_seconds_count', { operation: 'kv-subkeys', outcome: '2xx' })[0]?.value ?? 0) >= 1, 'keysOnly reads subkeys');
  t.ok((find(samples, 'coffre_vault_request_duration_seconds_count', { operation: 'kv-data', outcome: '2xx' })[0]?.value ?? 0) >= 1, 'a full check reads data');
  for (const s of samples.filter((s) => s.name.startsWith('coffre_vault'))) t.notMatch(JSON.stringify(s.labels), new RegExp(`${fixture.bao.prefix}|chat|wiki`), 'no path in a label');

  const deniedMetrics = createServerMetrics({ build: { version: 't', node: 't' }, processMetrics: false });
  // Only the built-in default policy: no KV access (an empty list would inherit the parent token's policies).
  const noAccess = await fixture.bao.tokenWithPolicies(['default']);
  const denied = fixture.app({
    metrics: deniedMetrics,
    openWorkspace: () => openWorkspace({ root: fixture.dir, env: { ...fixture.env, VAULT_TOKEN: noAccess }, vaultObserver: deniedMetrics.vaultObserver }),
  });
  t.teardown(() => denied.close());
  const deniedAnswer = await denied.inject({ url: '/v1/check', headers: bearer(fixture.tokens.check) });
  ({ samples } = parseExposition((await denied.inject({ url: '/metrics' })).body));
  t.match(deniedAnswer.body, /COFFRE_SOURCE_DENIED/, 'Vault refused the reads (reported in the check)');
  t.ok(find(samples, 'coffre_vault_request_errors_total', { class: '4xx' }).reduce((sum, s) => sum + s.value, 0) >= 1, 'a token without the policy is denied: 4xx');

  const unreachable = createServerMetrics({ build: { version: 't', node: 't' }, processMetrics: false });
  const down = fixture.app({
    metrics: unreachable,
    openWorkspace: () => openWorkspace({ root: fixture.dir, env: { ...fixture.env, VAULT_ADDR: 'http://127.0.0.1:9' }, vaultObserver: unreachable.vaultObserver }),
  });
  t.teardown(() => down.close());
  t.equal((await down.inject({ url: '/readyz' })).statusCode, 503);
  ({ samples } = parseExposition((await down.inject({ url: '/metrics' })).body));
  t.ok((find(samples, 'coffre_vault_request_errors_total', { operation: 'sys', class: 'unreachable' })[0]?.value ?? 0) >= 1, 'the refused connection is counted as unreachable');
});

t.test('Vault operation kinds are bounded names derived from the API path', async (t) => {
  const cases: Array<[string, string]> = [
    ['secret/data/app/db', 'kv-data'],
    ['kv/team/metadata/app', 'kv-metadata'],
    ['secret/subkeys/app/db?depth=1', 'kv-subkeys'],
    ['secret/data', 'kv-data'],
    ['sys/health?standbyok=true', 'sys'],
    ['auth/token/lookup-self', 'auth'],
    ['auth/approle/login', 'auth'],
    ['secret/config', 'other'],
  ];
  for (const [apiPath, operation] of cases) t.equal(vaultOperationOf(apiPath), operation, apiPath);
});
