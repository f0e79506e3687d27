// coffre serve keeps git's "these targets are untracked and ignored" answer while nothing git reads to give it
// has changed, instead of starting two git processes per render request. Real git, real repos.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { createGitVerdictCache } from '../../src/render/git-answer-cache.js';
import { gitClearsTargets } from '../../src/render/git-exposure.js';
import { git, initGitRepo } from './render-fixture.js';

const TARGETS = ['svc/secrets/db.secrets', 'svc/secrets/app.secrets'];

function repo(t: Test): string {
  const root = initGitRepo(t.testdir({ '.gitignore': '*.secrets\n', svc: { secrets: { 'db.secrets.example': 'A=\n' }, 'docker-compose.yml': 'services: {}\n' } }));
  git(root, 'add', '.gitignore', 'svc');
  return root;
}

/** Runs `fn` with no git on PATH: only a reused answer can come out true (a real question fails closed). */
async function withoutGit<T>(fn: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    return await fn();
  } finally {
    process.env.PATH = saved;
  }
}

t.test('a yes is reused while the index and every .gitignore on the way are unchanged', async (t) => {
  const root = repo(t);
  // Inputs written just now are inside the racy window: look from 10 s later so that the answer is kept.
  const cache = createGitVerdictCache(() => Date.now() + 10_000);
  t.equal(await withoutGit(() => gitClearsTargets(root, TARGETS)), false, 'without git, a real question fails closed');
  t.equal(await cache.clears(root, TARGETS), true, 'git clears the targets');
  t.equal(await withoutGit(() => cache.clears(root, TARGETS)), true, 'answered again without git');
  t.equal(await withoutGit(() => cache.clears(root, [...TARGETS].reverse())), true, 'the same targets in another order');

  // A new .gitignore below the toplevel re-includes one target: the answer is no longer reused, and git says no.
  writeFileSync(path.join(root, 'svc/secrets/.gitignore'), '!db.secrets\n');
  t.equal(await withoutGit(() => cache.clears(root, TARGETS)), false, 'a .gitignore appeared on the way: asked again');
  t.equal(await cache.clears(root, TARGETS), false, 'git: db.secrets is re-included');
  t.equal(await withoutGit(() => cache.clears(root, TARGETS)), false, 'a no is never reused');
  rmSync(path.join(root, 'svc/secrets/.gitignore'));
  t.equal(await cache.clears(root, TARGETS), true, 'cleared again once the re-include is gone');

  // Tracking a target changes the index.
  writeFileSync(path.join(root, 'svc/secrets/db.secrets'), 'A=1\n');
  git(root, 'add', '-f', 'svc/secrets/db.secrets');
  t.equal(await withoutGit(() => cache.clears(root, TARGETS)), false, 'the index changed: asked again');
  t.equal(await cache.clears(root, TARGETS), false, 'git: db.secrets is tracked');
});

t.test('inputs changed within the racy window, and folders that are not a repository, are not reused', async (t) => {
  const root = repo(t);
  const cache = createGitVerdictCache();
  t.equal(await cache.clears(root, TARGETS), true);
  t.equal(await withoutGit(() => cache.clears(root, TARGETS)), false, 'the .gitignore was written under 2 s ago: not reused');

  const plain = t.testdir({ svc: { secrets: {} } });
  mkdirSync(path.join(plain, 'svc', 'other'));
  const later = createGitVerdictCache(() => Date.now() + 10_000);
  t.equal(await later.clears(plain, TARGETS), true, 'no repository: nothing can track the targets');
  t.equal(await withoutGit(() => later.clears(plain, TARGETS)), true, 'and without git, still no repository to protect');
});

t.test('sops sources git will not commit: any answer is reused until the index, a .gitignore or .git/info/exclude changes', async (t) => {
  const SOURCES = ['svc/secrets/db.secrets.sops.yaml', 'svc/secrets/app.secrets.sops.yaml'];
  const root = initGitRepo(t.testdir({ '.gitignore': 'secrets/*\n', svc: { secrets: { 'db.secrets.sops.yaml': 'a: 1\n', 'app.secrets.sops.yaml': 'a: 1\n' }, 'docker-compose.yml': 'services: {}\n' } }));
  git(root, 'add', '.gitignore', 'svc/docker-compose.yml');
  const cache = createGitVerdictCache(() => Date.now() + 10_000);
  const names = (entries: Array<{ rel: string }>) => entries.map((e) => e.rel).sort();
  t.same(names(await cache.ignoredSources(root, SOURCES)), [], 'the top .gitignore rule is anchored to the top: nothing ignored');
  t.same(names(await withoutGit(() => cache.ignoredSources(root, SOURCES))), [], 'an empty answer is reused without git');

  writeFileSync(path.join(root, 'svc/.gitignore'), 'secrets/\n');
  t.same(names(await cache.ignoredSources(root, SOURCES)), [...SOURCES].sort(), 'a new .gitignore on the way is seen');
  const reused = await withoutGit(() => cache.ignoredSources(root, SOURCES));
  t.same(names(reused), [...SOURCES].sort(), 'and that answer is reused without git');
  t.match(reused[0], { source: 'svc/.gitignore', pattern: 'secrets/', folderIgnored: true }, 'with the rule that matched');

  rmSync(path.join(root, 'svc/.gitignore'));
  const exclude = path.join(root, '.git', 'info', 'exclude');
  mkdirSync(path.dirname(exclude), { recursive: true });
  writeFileSync(exclude, 'db.secrets.sops.yaml\n');
  t.same(names(await withoutGit(() => cache.ignoredSources(root, SOURCES))), [], 'without git, a changed input is not answered from memory (git fails: nothing reported)');
  t.same(names(await cache.ignoredSources(root, SOURCES)), ['svc/secrets/db.secrets.sops.yaml'], '.git/info/exclude is read');

  git(root, 'add', '-f', 'svc/secrets/db.secrets.sops.yaml');
  t.same(names(await cache.ignoredSources(root, SOURCES)), [], 'once tracked (the index changed), it will be committed');
});

/** Puts a git first on PATH that counts its runs, then runs the real one; `counted(fn)` runs `fn` with it. */
function countingGit(t: Test): <T>(fn: () => Promise<T>) => Promise<{ value: T; runs: number }> {
  // Not t.testdir: a test has one, and the repo lives there.
  const bin = mkdtempSync(path.join(os.tmpdir(), 'coffre-counting-git-'));
  t.teardown(() => rmSync(bin, { recursive: true, force: true }));
  const counter = path.join(bin, 'runs');
  const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  writeFileSync(path.join(bin, 'git'), `#!/bin/sh\necho run >> '${counter}'\nexec '${realGit}' "$@"\n`, { mode: 0o755 });
  const runs = (): number => (existsSync(counter) ? readFileSync(counter, 'utf8').split('\n').filter(Boolean).length : 0);
  return async (fn) => {
    rmSync(counter, { force: true });
    const saved = process.env.PATH;
    process.env.PATH = `${bin}:${saved ?? ''}`;
    try {
      return { value: await fn(), runs: runs() };
    } finally {
      process.env.PATH = saved;
    }
  };
}

t.test('requests that come while git answers share its answer: one question, not one per request', async (t) => {
  const root = repo(t);
  const counted = countingGit(t);
  const later = (): number => Date.now() + 10_000;
  const one = await counted(() => createGitVerdictCache(later).clears(root, TARGETS));
  t.equal(one.value, true);
  t.ok(one.runs > 0, `one question runs git (${one.runs} runs)`);
  const cache = createGitVerdictCache(later);
  const burst = await counted(() => Promise.all(Array.from({ length: 8 }, () => cache.clears(root, TARGETS))));
  t.same(burst.value, Array.from({ length: 8 }, () => true), 'every request is answered yes');
  t.equal(burst.runs, one.runs, '8 concurrent first requests: the runs of one question');
  const sources = ['svc/secrets/db.secrets.sops.yaml'];
  const ignoredOnce = await counted(() => createGitVerdictCache(later).ignoredSources(root, sources));
  const shared = createGitVerdictCache(later);
  const ignoredBurst = await counted(() => Promise.all(Array.from({ length: 8 }, () => shared.ignoredSources(root, sources))));
  t.equal(ignoredBurst.runs, ignoredOnce.runs, 'the same for the sops-source question');
  t.same(ignoredBurst.value, Array.from({ length: 8 }, () => ignoredOnce.value));
  // Each caller gets its own copy of the entries.
  t.not(ignoredBurst.value[0], ignoredBurst.value[1]);
});

t.test('an answer that is not kept is not shared: a request that came meanwhile asks git itself', async (t) => {
  const root = repo(t);
  const counted = countingGit(t);
  // The real clock: the .gitignore was just written, inside the racy window, so no answer is kept.
  const one = await counted(() => createGitVerdictCache().clears(root, TARGETS));
  const cache = createGitVerdictCache();
  const burst = await counted(() => Promise.all(Array.from({ length: 3 }, () => cache.clears(root, TARGETS))));
  t.same(burst.value, [true, true, true], 'each is answered');
  t.ok(burst.runs > one.runs, `the requests that came meanwhile asked git again (${burst.runs} runs, one question: ${one.runs})`);
  writeFileSync(path.join(root, 'svc/secrets/.gitignore'), '!db.secrets\n');
  t.same(await Promise.all([cache.clears(root, TARGETS), cache.clears(root, TARGETS)]), [false, false], 'a no is never shared from a remembered yes');
});
