// Keeps the README's error-code table in sync with src/errors.ts (the one source of truth).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { runCli } from '../src/cli/main.js';
import { ERROR_CODES } from '../src/errors.js';
import { ANNOTATED_CONFIG_EXAMPLE } from '../src/repo/config-example.js';
import { projectRoot } from './support/tools.js';

t.test('the README error table lists every error code with its exit code and HTTP status', async (t) => {
  const readme = await readFile(path.join(projectRoot, 'README.md'), 'utf8');
  const section = readme.split('<!-- error-codes:start -->')[1]?.split('<!-- error-codes:end -->')[0] ?? '';
  const rows = new Map<string, { exit: number; http: number }>();
  for (const match of section.matchAll(/^\| `(COFFRE_[A-Z_]+)` \| (\d+) \| (\d+) \|/gm)) {
    rows.set(match[1] as string, { exit: Number(match[2]), http: Number(match[3]) });
  }
  t.same([...rows.keys()].sort(), Object.keys(ERROR_CODES).sort(), 'same set of codes');
  for (const [code, spec] of Object.entries(ERROR_CODES)) {
    t.same(rows.get(code), { exit: spec.exit, http: spec.http }, `${code} row matches`);
  }
});

t.test('the README quick-start output is what `coffre -C examples/infra check` prints', async (t) => {
  const readme = await readFile(path.join(projectRoot, 'README.md'), 'utf8');
  const sample = /\$ npx coffre -C examples\/infra check\n([\s\S]*?)```/.exec(readme)?.[1];
  t.ok(sample, 'the README has the sample');
  let stdout = '';
  const code = await runCli(['-C', 'examples/infra', 'check'], { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: () => true }, env: {}, cwd: projectRoot });
  t.equal(code, 1, 'exit 1 as the README says');
  t.equal(stdout, sample);
});

t.test('the README configuration block is the annotated example coffre.yaml (the one config tests parse)', async (t) => {
  const readme = await readFile(path.join(projectRoot, 'README.md'), 'utf8');
  const section = readme.split('<!-- config:start -->')[1]?.split('<!-- config:end -->')[0] ?? '';
  t.equal(section.trim(), ['```yaml', ANNOTATED_CONFIG_EXAMPLE.trimEnd(), '```'].join('\n'));
});
