#!/usr/bin/env node
// Prints, per corpus repo (test/corpus/<slug>/), how coffre's discovery compares with the real Docker Compose v2:
// targets found / compose targets, examples associated with no config, false errors, the config it needs;
// then (with --mismatches) every mismatch: repo, compose project:service, what compose reads vs what coffre does.
// Needs a build (`npm run build`) and the pinned compose binary (`npm run tools`). Reads the corpus only; writes
// nothing but temp copies, removed at the end.
//   node scripts/corpus-report.mjs [--markdown] [--mismatches] [slug ...]
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { listCorpusRepos, composeTargets, coffreView, compareRepo } = await import(path.join(root, 'dist', 'test', 'corpus', 'corpus-oracle.js'));

const args = process.argv.slice(2);
const markdown = args.includes('--markdown');
const showMismatches = args.includes('--mismatches');
const only = args.filter((a) => !a.startsWith('--'));

const rows = [];
const mismatches = [];
for (const repo of listCorpusRepos()) {
  if (only.length > 0 && !only.includes(repo.slug)) continue;
  const [compose, coffre] = await Promise.all([composeTargets(repo), coffreView(repo)]);
  const comparison = compareRepo(repo, compose, coffre);
  rows.push({ repo: repo.manifest.upstream.replace('https://github.com/', ''), commit: repo.manifest.commit.slice(0, 7), ...comparison });
  mismatches.push(...comparison.mismatches);
}

const header = ['repo', 'commit', 'targets found / compose', 'examples associated (no config)', 'false errors', 'config needed'];
const cells = rows.map((r) => [r.repo, r.commit, `${r.found} / ${r.composeTargets}`, `${r.examplesAssociated} / ${r.examplesExpected}`, String(r.falseErrors), r.configNeeded.join('; ') || 'none']);
if (markdown) {
  process.stdout.write(`| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|\n`);
  for (const row of cells) process.stdout.write(`| ${row.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |\n`);
} else {
  const widths = header.map((h, i) => Math.min(60, Math.max(h.length, ...cells.map((c) => c[i].length))));
  const line = (row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  process.stdout.write(`${line(header)}\n`);
  for (const row of cells) process.stdout.write(`${line(row)}\n`);
}
const total = rows.reduce((acc, r) => ({ found: acc.found + r.found, compose: acc.compose + r.composeTargets, examples: acc.examples + r.examplesAssociated, expected: acc.expected + r.examplesExpected, falseErrors: acc.falseErrors + r.falseErrors }), { found: 0, compose: 0, examples: 0, expected: 0, falseErrors: 0 });
process.stdout.write(`\ntotal: ${total.found} / ${total.compose} targets found, ${total.examples} / ${total.expected} examples associated, ${total.falseErrors} false errors\n`);

if (showMismatches) {
  process.stdout.write(`\n${markdown ? '| repo | kind | where | compose | coffre |\n|---|---|---|---|---|\n' : ''}`);
  for (const m of mismatches) {
    if (markdown) process.stdout.write(`| ${[m.repo, m.kind, m.where, m.compose, m.coffre].map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |\n`);
    else process.stdout.write(`${m.repo}  ${m.kind}  ${m.where}\n    compose: ${m.compose}\n    coffre:  ${m.coffre}\n`);
  }
}
