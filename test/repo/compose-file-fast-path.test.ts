// readComposeEnvFiles skips the alias expansion of a file with no `*`, `$` nor `\`: the answers must be those of
// a file that goes through it (same entries, lines, problems), and a `$` written as an escape is still seen.
import t from 'tap';
import { readComposeEnvFiles } from '../../src/repo/compose-file.js';

const plain = 'services:\n  app:\n    image: app\n    env_file:\n      - ./a.secrets\n      - path: b.env\n        required: false\n        format: raw\nsecrets:\n  db:\n    file: ./db.txt\n';

t.test('a file without aliases nor variables reads as the same file with an unused variable', async (t) => {
  const fast = readComposeEnvFiles(plain);
  // A comment holding "$" and "*" takes the expanding path without changing what the file says.
  const slow = readComposeEnvFiles(plain + '# ${UNUSED} *\n');
  t.same(fast, slow);
  t.same(fast.variables, []);
  t.same(fast.entries.map((e) => [e.path, e.line, e.required, e.format]), [
    ['./a.secrets', 5, true, 'compose'],
    ['b.env', 6, false, 'raw'],
  ]);
  t.same(fast.secretFiles, [{ name: 'db', path: './db.txt', line: 11 }]);
});

t.test('a "$" written as an escape is a variable, as compose reads the value', async (t) => {
  const parsed = readComposeEnvFiles('services:\n  app:\n    environment:\n      A: "\\x24{FROM_ESCAPE}"\n      B: "\\u0024{OTHER:-x}"\n');
  t.same(parsed.variables, [
    { name: 'FROM_ESCAPE', hasDefault: false },
    { name: 'OTHER', hasDefault: true },
  ]);
});

t.test('problems of a file without aliases nor variables keep their lines', async (t) => {
  const parsed = readComposeEnvFiles('services:\n  app:\n    env_file:\n      - 12\n      - {path: x, mode: 1}\n');
  t.same(parsed.problems.map((p) => p.line), [4, 5]);
  const broken = readComposeEnvFiles('services:\n  app: [\n');
  t.equal(broken.problems.length, 1);
  t.match(broken.problems[0]!.message, /^not valid YAML/);
});

t.test('aliases still expand (and a bomb is still refused) on the other path', async (t) => {
  const merged = readComposeEnvFiles('x-base: &base\n  env_file: base.secrets\nservices:\n  app:\n    <<: *base\n');
  t.same(merged.entries.map((e) => e.path), ['base.secrets']);
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 0; i < 6; i++) bomb.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`);
  t.match(readComposeEnvFiles(bomb.join('\n') + '\n').problems, [{ message: /alias bomb/ }]);
});
