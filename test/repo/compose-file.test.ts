import t from 'tap';
import { readComposeEnvFiles } from '../../src/repo/compose-file.js';

t.test('reads env_file in its three shapes with lines', async (t) => {
  const text = `services:
  app:
    image: x
    env_file: secrets/app.secrets
  db:
    env_file:
      - secrets/db.secrets
      - ./db.env
  worker:
    env_file:
      - path: secrets/worker.secrets
      - path: worker.env
        required: false
        format: raw
`;
  const result = readComposeEnvFiles(text);
  t.same(result.problems, []);
  t.same(result.entries, [
    { composeService: 'app', path: 'secrets/app.secrets', required: true, format: 'compose', line: 4 },
    { composeService: 'db', path: 'secrets/db.secrets', required: true, format: 'compose', line: 7 },
    { composeService: 'db', path: './db.env', required: true, format: 'compose', line: 8 },
    { composeService: 'worker', path: 'secrets/worker.secrets', required: true, format: 'compose', line: 11 },
    { composeService: 'worker', path: 'worker.env', required: false, format: 'raw', line: 12 },
  ]);
});

t.test('follows anchors, aliases and << merge keys', async (t) => {
  const text = `x-common: &common
  env_file:
    - secrets/shared.secrets
x-one: &one secrets/one.secrets
services:
  a:
    <<: *common
    image: a
  b:
    env_file: *one
  c:
    <<: [*common]
    env_file: own.env
`;
  const result = readComposeEnvFiles(text);
  t.same(result.problems, []);
  t.same(
    result.entries.map((e) => [e.composeService, e.path, e.line]),
    [
      ['a', 'secrets/shared.secrets', 3],
      ['b', 'secrets/one.secrets', 4],
      ['c', 'own.env', 13],
    ],
  );
});

t.test('reports problems with their lines instead of throwing', async (t) => {
  const cases = [
    { name: 'invalid YAML', text: 'services:\n  a:\n    env_file: [x\n  b: {}\n', line: 4, message: /not valid YAML/ },
    { name: 'duplicate keys', text: 'services:\n  a:\n    image: x\n    image: y\n', line: 4, message: /not valid YAML: Map keys must be unique/ },
    { name: 'long entry without path', text: 'services:\n  a:\n    env_file:\n      - required: false\n', line: 4, message: /needs a non-empty "path"/ },
    { name: 'unknown format', text: 'services:\n  a:\n    env_file:\n      - path: x\n        format: json\n', line: 5, message: /"format" can only be raw/ },
    { name: 'required not a boolean', text: 'services:\n  a:\n    env_file:\n      - path: x\n        required: "no"\n', line: 5, message: /"required" must be true or false/ },
    { name: 'unknown key in a long entry', text: 'services:\n  a:\n    env_file:\n      - path: x\n        requird: false\n', line: 5, message: /unknown key "requird"/ },
    { name: 'env_file is a map', text: 'services:\n  a:\n    env_file: {path: x}\n', line: 3, message: /must be a path or a list/ },
    { name: 'services is a list', text: 'services:\n  - a\n', line: 2, message: /"services" is not a mapping/ },
  ];
  for (const c of cases) {
    const result = readComposeEnvFiles(c.text);
    t.equal(result.problems.length >= 1, true, c.name);
    t.match(result.problems[0], { line: c.line, message: c.message }, c.name);
  }
});

t.test('an empty compose file or one without services has no entries and no problems', async (t) => {
  for (const text of ['', '# nothing\n', 'version: "3"\n', 'services:\n', 'services:\n  a:\n  b:\n    image: x\n']) {
    const result = readComposeEnvFiles(text);
    t.same({ entries: result.entries, problems: result.problems, extends: result.extends, includes: result.includes }, { entries: [], problems: [], extends: [], includes: [] }, JSON.stringify(text));
  }
});

t.test('a YAML alias bomb is a problem, not an exhausted process', async (t) => {
  // Nine levels of nine aliases: 9^9 nodes once expanded, as docker compose (go-yaml) would refuse too.
  let text = 'x-a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n';
  let previous = 'a';
  for (let level = 0; level < 9; level++) {
    text += `x-b${level}: &b${level} [${Array(9).fill(`*${previous}`).join(', ')}]\n`;
    previous = `b${level}`;
  }
  text += `services:\n  app:\n    image: x\n    env_file: ./app.secrets\n    labels: *${previous}\n`;
  const started = Date.now();
  const result = readComposeEnvFiles(text);
  t.ok(Date.now() - started < 5000, 'answers quickly');
  t.same(result.entries, [], 'no entry is trusted from a refused file');
  t.match(result.problems, [{ message: /alias bomb/ }]);
});

t.test('reports extends: and include: with their lines, for the caller to follow or refuse', async (t) => {
  const text = `include:
  - ../shared/compose.yaml
services:
  base:
    env_file: base.secrets
  web:
    extends: base
  worker:
    extends:
      service: common
      file: ../common/compose.yml
`;
  const result = readComposeEnvFiles(text);
  t.same(result.problems, []);
  t.same(result.services, ['base', 'web', 'worker']);
  t.same(result.includes, [{ line: 2, paths: ['../shared/compose.yaml'], projectDirectory: null, envFiles: null }]);
  t.same(result.extends, [
    { composeService: 'web', service: 'base', file: null, line: 7 },
    { composeService: 'worker', service: 'common', file: '../common/compose.yml', line: 10 },
  ]);
});
