// Regenerates the README sections that mirror code (error-code table, annotated coffre.yaml) from the
// built sources, so the README stays true; test/readme.test.ts fails when they drift. Run after `npm run build`.
import { readFileSync, writeFileSync } from 'node:fs';
import { ERROR_CODES } from '../dist/src/errors.js';
import { ANNOTATED_CONFIG_EXAMPLE } from '../dist/src/repo/config-example.js';

const readmePath = new URL('../README.md', import.meta.url);
let readme = readFileSync(readmePath, 'utf8');

function replaceSection(name, body) {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  if (from < 0 || to < 0) throw new Error(`README has no ${name} section`);
  readme = `${readme.slice(0, from + start.length)}\n${body}\n${readme.slice(to)}`;
}

const rows = Object.entries(ERROR_CODES).map(([code, spec]) => `| \`${code}\` | ${spec.exit} | ${spec.http} | ${spec.summary} |`);
replaceSection('error-codes', ['| code | exit | HTTP | meaning |', '|---|---:|---:|---|', ...rows].join('\n'));
replaceSection('config', ['```yaml', ANNOTATED_CONFIG_EXAMPLE.trimEnd(), '```'].join('\n'));
writeFileSync(readmePath, readme);
