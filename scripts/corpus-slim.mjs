#!/usr/bin/env node
// Copies the files coffre reads from one commit of a public self-hosting repo into test/corpus/<slug>/:
// compose files, env/secret examples, .gitignore files and the licence. Real env files are never copied
// (a committed `x.env` or `.env` is a target, not an example). Run by hand when (re)building the corpus:
//   node scripts/corpus-slim.mjs <git-dir> <commit> <out-dir> [folder ...]
// Folders limit the copy to a subset of service folders (root-level files are always considered).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const [gitDir, commit, outDir, ...folders] = process.argv.slice(2);
if (!gitDir || !commit || !outDir) {
  process.stderr.write('usage: node scripts/corpus-slim.mjs <git-dir> <commit> <out-dir> [folder ...]\n');
  process.exit(2);
}

const git = (...args) => execFileSync('git', ['-C', gitDir, ...args], { maxBuffer: 1 << 28 });
const files = git('ls-tree', '-r', '--name-only', '-z', commit).toString('utf8').split('\0').filter(Boolean);

/** Example files: `*.example`, `*.dist`, `*.sample`, `*.template`, `env.example`, `.template.*`, anything in a `*-sample` folder. */
function isExample(file) {
  const base = path.posix.basename(file);
  if (/\.(example|dist|sample|template)$/i.test(base)) return true;
  if (/^\.template\./.test(base)) return true;
  return path.posix.dirname(file).split('/').some((part) => /(^|-)sample$/i.test(part));
}

function isCompose(file, text) {
  if (!/\.ya?ml$/i.test(file)) return false;
  return /^services:\s*$/m.test(text);
}

const kept = [];
for (const file of files) {
  const top = file.split('/')[0];
  const inRoot = !file.includes('/');
  if (folders.length > 0 && !inRoot && !folders.some((f) => file === f || file.startsWith(`${f}/`))) continue;
  const base = path.posix.basename(file);
  let keep = false;
  if (inRoot && /^(licen[cs]e|copying)(\.md|\.txt)?$/i.test(base)) keep = true;
  else if (base === '.gitignore') keep = true;
  else if (isExample(file)) keep = true;
  else if (/\.ya?ml$/i.test(base)) {
    const text = git('show', `${commit}:${file}`).toString('utf8');
    keep = isCompose(file, text);
  }
  if (!keep || top === '.github') continue;
  const content = git('show', `${commit}:${file}`);
  const out = path.join(outDir, file);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, content);
  kept.push(file);
}
process.stdout.write(`${kept.length} files\n${kept.join('\n')}\n`);
