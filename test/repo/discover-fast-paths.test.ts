// The fast paths of discovery (one listing per folder answering every presence probe, synchronous bounded reads,
// example patterns filled only when no `T<suffix>` exists) must answer as the plain ones did: links, FIFOs,
// folders named like files, case, and the same model as a view of the disk made of plain fs/promises calls.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { defaultConfig, parseConfig, type CoffreConfig } from '../../src/repo/config.js';
import { discoverRepo, type RepoModel } from '../../src/repo/discover.js';
import { FileTooLargeError, NotRegularFileError, readBoundedText, readBoundedTextSync } from '../../src/repo/bounded-read.js';
import type { RepoFiles } from '../../src/repo/repo-files.js';

function mkfifo(file: string): void {
  // Fails loudly when mkfifo is missing: these tests need a real FIFO.
  execFileSync('mkfifo', [file]);
}

/** A view of the disk as discovery read it before (one fs/promises call per question): the reference. */
const plainFiles: RepoFiles = {
  async isDirectory(dir) {
    const stats = await lstat(dir).catch(() => null);
    return stats !== null && stats.isDirectory();
  },
  async list(dir) {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.map((entry) => ({ name: entry.name, kind: entry.isFile() ? 'file' : entry.isDirectory() ? 'dir' : entry.isSymbolicLink() ? 'symlink' : 'other' }));
  },
  async isFile(file) {
    try {
      return (await stat(file)).isFile();
    } catch {
      return false;
    }
  },
  readText: readBoundedText,
};

function discover(root: string, options: { config?: CoffreConfig; files?: RepoFiles; environment?: Record<string, string> } = {}): Promise<RepoModel> {
  return discoverRepo({ root, config: options.config ?? defaultConfig(), vaultEnabled: true, ...(options.files ? { files: options.files } : {}), ...(options.environment ? { environment: options.environment } : {}) });
}

function thrown(work: () => unknown): unknown {
  try {
    work();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** Races a discovery against a timer: a hang (a blocking open of a FIFO) fails the test instead of the run. */
async function withinSeconds<T>(seconds: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${seconds} s (a blocking read?)`)), seconds * 1000);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

t.test('a symlinked example is used; a link to a folder, a dangling link and a FIFO named like an example are not', async (t) => {
  const root = t.testdir({
    shared: { 'a.secrets.example': 'A=\n', folder: {} },
    app: {
      'docker-compose.yml': 'services:\n  app:\n    env_file:\n      - a.secrets\n      - b.secrets\n      - c.secrets\n      - d.secrets\n',
      'a.secrets.example': t.fixture('symlink', '../shared/a.secrets.example'),
      'b.secrets.example': t.fixture('symlink', '../shared/folder'),
      'c.secrets.example': t.fixture('symlink', '../shared/nothing-here'),
    },
  });
  mkfifo(path.join(root, 'app', 'd.secrets.example'));
  const repo = await withinSeconds(20, discover(root));
  const files = repo.services[0]!.secretFiles;
  t.same(
    files.map((f) => [f.name, f.exampleRel]),
    [
      ['a', 'app/a.secrets.example'],
      ['b', null],
      ['c', null],
      ['d', null],
    ],
  );
  t.same(
    repo.problems.filter((p) => p.code === 'COFFRE_EXAMPLE_MISSING').map((p) => p.message.split(' (')[0]),
    ['env_file app/b.secrets has no example', 'env_file app/c.secrets has no example', 'env_file app/d.secrets has no example'],
  );
  t.same(await discover(root, { files: plainFiles }), repo, 'the same model as plain fs/promises calls give');
});

t.test('a folder or a FIFO named like a compose file makes no service; a symlinked compose file does', async (t) => {
  const root = t.testdir({
    shared: { 'compose.yaml': 'services:\n  x:\n    env_file: x.secrets\n' },
    folder: { 'docker-compose.yml': {} },
    linked: { 'docker-compose.yml': t.fixture('symlink', '../shared/compose.yaml'), 'x.secrets.example': 'X=\n' },
    fifo: {},
  });
  mkfifo(path.join(root, 'fifo', 'docker-compose.yml'));
  const repo = await withinSeconds(20, discover(root));
  t.same(repo.services.map((s) => s.name), ['linked', 'shared']);
  t.same(repo.services[0]!.secretFiles.map((f) => f.exampleRel), ['linked/x.secrets.example']);
  t.same(await discover(root, { files: plainFiles }), repo);
});

t.test('names are compared as written: another case is another file', async (t) => {
  const root = t.testdir({
    upper: { 'Docker-Compose.yml': 'services: {}\n' },
    app: {
      'compose.yaml': 'services:\n  app:\n    env_file: [one.secrets, two.secrets]\n',
      'one.secrets.EXAMPLE': 'A=\n',
      'One.secrets.example': 'A=\n',
      'two.secrets.example': 'B=\n',
    },
  });
  const repo = await discover(root);
  t.same(repo.services.map((s) => s.name), ['app']);
  t.same(repo.services[0]!.secretFiles.map((f) => f.exampleRel), [null, 'app/two.secrets.example']);
  t.same(await discover(root, { files: plainFiles }), repo);
});

t.test('an example pattern is still found when T<suffix> is absent, and T<suffix> still wins over it', async (t) => {
  const root = t.testdir({
    app: {
      'compose.yaml': 'services:\n  app:\n    env_file: [.env, conf/db.env]\n',
      'env.example': 'A=\n',
      '.env.sample': 'A=\n',
      conf: { 'db.env.dist': 'B=\n' },
      'conf-sample': { 'db.env.sample': 'B=\n' },
    },
  });
  const repo = await discover(root);
  t.same(repo.services[0]!.secretFiles.map((f) => f.exampleRel), ['app/.env.sample', 'app/conf/db.env.dist']);
  // env.example and conf-sample/db.env.sample are candidates of a target that has an example: not reported.
  t.same(await discover(root, { files: plainFiles }), repo);

  const onlyPatterns = t.testdir({
    app: {
      'compose.yaml': 'services:\n  app:\n    env_file: [.env, conf/db.env]\n',
      'env.example': 'A=\n',
      'conf-sample': { 'db.env.sample': 'B=\n' },
      conf: {},
    },
  });
  const found = await discover(onlyPatterns);
  t.same(found.services[0]!.secretFiles.map((f) => f.exampleRel), ['app/env.example', 'app/conf-sample/db.env.sample']);
  t.same(found.problems, []);
  t.same(await discover(onlyPatterns, { files: plainFiles }), found);
});

t.test('a skipped target references every candidate of its example, patterns included', async (t) => {
  const root = t.testdir({
    app: {
      'compose.yaml': 'services:\n  app:\n    env_file: .env\n',
      'env.example': 'A=\n',
    },
  });
  const config = parseConfig('files:\n  "app/.env":\n    skip: true\n', 'coffre.yaml');
  const repo = await discover(root, { config });
  t.same(repo.services[0]!.secretFiles, []);
  t.same(repo.problems, [], 'env.example is the skipped target example: not unreferenced');
});

t.test('a FIFO named .env, read for ${VAR} of a path, is refused instead of blocking discovery', async (t) => {
  const root = t.testdir({
    app: {
      'compose.yaml': 'services:\n  app:\n    env_file: ${NAME}.secrets\n',
    },
  });
  mkfifo(path.join(root, 'app', '.env'));
  const repo = await withinSeconds(20, discover(root));
  t.match(repo.problems, [
    { severity: 'warning', code: 'COFFRE_COMPOSE_INVALID', file: 'app/.env', message: 'cannot read the project .env: not a regular file, refused' },
    { severity: 'error', code: 'COFFRE_COMPOSE_INVALID', file: 'app/compose.yaml', line: 3 },
  ]);
});

t.test('readBoundedTextSync: same text and refusals as readBoundedText, no blocking on a FIFO', async (t) => {
  const dir = t.testdir({ folder: {} });
  const write = (name: string, content: string | Buffer) => {
    const file = path.join(dir, name);
    writeFileSync(file, content);
    return file;
  };
  const cases: Array<[string, string | Buffer]> = [
    ['empty', ''],
    ['small', 'A=1\nB="é ☃"\n'],
    ['bom', '\ufeffA=1\n'],
    ['at-cap', 'x'.repeat(100)],
    ['big', Buffer.alloc(150_000, 0x61)],
  ];
  for (const [name, content] of cases) {
    const file = write(name, content);
    t.equal(readBoundedTextSync(file, 200_000), await readBoundedText(file, 200_000), name);
  }
  t.equal(readBoundedTextSync(path.join(dir, 'at-cap'), 100).length, 100, 'a file of exactly the cap is read');
  t.ok(thrown(() => readBoundedTextSync(path.join(dir, 'at-cap'), 99)) instanceof FileTooLargeError, 'one byte over the cap is refused');
  t.throws(() => readBoundedTextSync(path.join(dir, 'big'), 100_000), { code: 'EFBIG' });
  t.throws(() => readBoundedTextSync(path.join(dir, 'missing'), 100), { code: 'ENOENT' });
  t.throws(() => readBoundedTextSync(path.join(dir, 'folder'), 100), { code: 'EISDIR' });
  await t.rejects(readBoundedText(path.join(dir, 'folder'), 100), { code: 'EISDIR' }, 'as the async read');
  mkdirSync(path.join(dir, 'sub'));
  const fifo = path.join(dir, 'sub', 'fifo');
  mkfifo(fifo);
  t.ok(thrown(() => readBoundedTextSync(fifo, 100)) instanceof NotRegularFileError, 'a FIFO is refused');
  t.throws(() => readBoundedTextSync('/dev/zero', 100), { code: 'ENOTREG' }, 'a device is refused too');
});
