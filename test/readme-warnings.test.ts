// Keeps the README's warning-code table in sync with src/errors.ts WARNING_CODES (as readme.test.ts does for errors).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { WARNING_CODES } from '../src/errors.js';
import { projectRoot } from './support/tools.js';

t.test('the README warning table lists every warning code with its summary', async (t) => {
  const readme = await readFile(path.join(projectRoot, 'README.md'), 'utf8');
  const section = readme.split('<!-- warning-codes:start -->')[1]?.split('<!-- warning-codes:end -->')[0] ?? '';
  const rows = new Map<string, string>();
  for (const match of section.matchAll(/^\| `([A-Z_]+)` \| (.+) \|$/gm)) rows.set(match[1] as string, match[2] as string);
  t.same([...rows.keys()].sort(), Object.keys(WARNING_CODES).sort(), 'same set of codes');
  for (const [code, spec] of Object.entries(WARNING_CODES)) t.equal(rows.get(code), spec.summary, `${code} row matches`);
});
