#!/usr/bin/env node
// Prints, per corpus repo (test/corpus/<slug>/), how coffre's discovery compares with the real Docker Compose v2:
// targets found / compose targets, examples associated with no config, false errors, the config it needs;
// then (with --mismatches) every mismatch: repo, compose project:service, what compose reads vs what coffre does.
// Needs a build (`npm run build`) and the pinned compose binary (`npm run tools`). Reads the corpus only; writes
// nothing but temp copies, removed at the end.
// --update-readme writes the markdown table between the corpus markers of README.md.
//   node scripts/corpus-report.mjs [--markdown] [--mismatches] [--update-readme] [slug ...]
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { listCorpusRepos, composeTargets, coffreView, compareRepo } = await import(path.join(root, 'dist', 'test', 'corpus', 'corpus-oracle.js'));

const args = process.argv.slice(2);
const updateReadme = args.includes('--update-readme');
const markdown = args.includes('--markdown') || updateReadme;
const showMismatches = args.includes('--mismatches');
const only = args.filter((a) => !a.startsWith('--'));

const rows = [];
const mismatches = [];
for (const repo of listCorpusRepos()) {
  if (only.length > 0 && !only.includes(repo.slug)) continue;
  const [compose, coffre] = await Promise.all([composeTargets(repo), coffreView(repo)]);
  const comparison = compareRepo(repo, compose, coffre);
  rows.push({ ...comparison, repo: repo.manifest.upstream.replace('https://github.com/', ''), commit: repo.manifest.commit.slice(0, 7) });
  mismatches.push(...comparison.mismatches);
}

let out = '';
const print = (text) => (out += text);
const header = ['repo', 'commit', 'targets found / compose', 'examples associated', 'false errors', 'config needed'];
const cells = rows.map((r) => [r.repo, r.commit, `${r.found} / ${r.composeTargets}`, `${r.examplesAssociated} / ${r.examplesExpected}`, String(r.falseErrors), r.configNeeded.join('; ') || 'none']);
if (markdown) {
  print(`| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|\n`);
  for (const row of cells) print(`| ${row.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |\n`);
} else {
  const widths = header.map((h, i) => Math.min(60, Math.max(h.length, ...cells.map((c) => c[i].length))));
  const line = (row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  print(`${line(header)}\n`);
  for (const row of cells) print(`${line(row)}\n`);
}
const total = rows.reduce((acc, r) => ({ found: acc.found + r.found, compose: acc.compose + r.composeTargets, examples: acc.examples + r.examplesAssociated, expected: acc.expected + r.examplesExpected, falseErrors: acc.falseErrors + r.falseErrors }), { found: 0, compose: 0, examples: 0, expected: 0, falseErrors: 0 });
print(`\ntotal: ${total.found} / ${total.compose} targets found, ${total.examples} / ${total.expected} examples associated, ${total.falseErrors} false errors\n`);

if (showMismatches) {
  print(`\n${markdown ? '| repo | kind | where | compose | coffre |\n|---|---|---|---|---|\n' : ''}`);
  for (const m of mismatches) {
    if (markdown) print(`| ${[m.repo, m.kind, m.where, m.compose, m.coffre].map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |\n`);
    else print(`${m.repo}  ${m.kind}  ${m.where}\n    compose: ${m.compose}\n    coffre:  ${m.coffre}\n`);
  }
}

if (updateReadme) {
  const readme = path.join(root, 'README.md');
  const text = readFileSync(readme, 'utf8');
  const start = '<!-- corpus:start -->';
  const end = '<!-- corpus:end -->';
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`README.md has no ${start} … ${end} block`);
  writeFileSync(readme, `${text.slice(0, from + start.length)}\n${out}${text.slice(to)}`);
} else {
  process.stdout.write(out);
}
