// `.sops.yaml` creation rules as coffre follows them to create a new sops file: first matching path_regex
// (path relative to the .sops.yaml folder), age recipients as a comma list or a YAML list, anything else refused.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { findSopsCreationRule, ruleFor } from '../../src/sources/sops-rules.js';

const A = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';
const B = 'age1lggyhqrw2nlhcxprm67z43rta597azn8gknawjehu9d9dl0jq3yqqvfafg';

const cases: Array<{ name: string; text: string; file: string; want: string[] | null | RegExp }> = [
  { name: 'first matching rule wins', text: `creation_rules:\n  - path_regex: ^other/\n    age: ${A}\n  - path_regex: \\.sops\\.yaml$\n    age: ${B}\n  - age: ${A}\n`, file: 'chat/x.sops.yaml', want: [B] },
  { name: 'a rule without path_regex matches every file', text: `creation_rules:\n  - age: ${A}\n`, file: 'a/b.sops.yaml', want: [A] },
  { name: 'comma-separated recipients, spaces trimmed', text: `creation_rules:\n  - age: "${A} , ${B}"\n`, file: 'x.sops.yaml', want: [A, B] },
  { name: 'a YAML list of recipients', text: `creation_rules:\n  - age:\n      - ${A}\n      - ${B}\n`, file: 'x.sops.yaml', want: [A, B] },
  { name: 'no rule matches: null', text: `creation_rules:\n  - path_regex: ^prod/\n    age: ${A}\n`, file: 'dev/x.sops.yaml', want: null },
  { name: 'no creation_rules: null', text: `stores:\n  yaml:\n    indent: 2\n`, file: 'x.sops.yaml', want: null },
  { name: 'a matching rule with pgp is refused, named', text: `creation_rules:\n  - pgp: ABCDEF\n    age: ${A}\n`, file: 'x.sops.yaml', want: /creation rule 1 \(matching x\.sops\.yaml\) uses pgp/ },
  { name: 'a matching rule with encrypted_regex is refused', text: `creation_rules:\n  - encrypted_regex: ^pass\n    age: ${A}\n`, file: 'x.sops.yaml', want: /uses encrypted_regex/ },
  { name: 'a matching rule without age is refused', text: `creation_rules:\n  - path_regex: .*\n`, file: 'x.sops.yaml', want: /has no usable age recipients/ },
  { name: 'a non-rule is refused', text: `creation_rules: 3\n`, file: 'x.sops.yaml', want: /creation_rules must be a list/ },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    if (c.want instanceof RegExp) {
      t.throws(() => ruleFor(c.text, '.sops.yaml', c.file), c.want);
      return;
    }
    const rule = ruleFor(c.text, '.sops.yaml', c.file);
    t.same(rule?.recipients ?? null, c.want);
  });
}

t.test('the nearest .sops.yaml up to the root; path_regex sees the path relative to its folder', async (t) => {
  const root = t.testdir({ '.sops.yaml': `creation_rules:\n  - path_regex: ^svc/secrets/\n    age: ${A}\n` });
  await mkdir(path.join(root, 'svc', 'secrets'), { recursive: true });
  t.same((await findSopsCreationRule(root, path.join(root, 'svc', 'secrets', 'db.secrets.sops.yaml')))?.recipients, [A]);
  await writeFile(path.join(root, 'svc', '.sops.yaml'), `creation_rules:\n  - path_regex: ^secrets/\n    age: ${B}\n`);
  const nearer = await findSopsCreationRule(root, path.join(root, 'svc', 'secrets', 'db.secrets.sops.yaml'));
  t.same(nearer, { configRel: 'svc/.sops.yaml', index: 1, recipients: [B] });
  const bare = path.join(root, 'svc', 'secrets');
  t.equal(await findSopsCreationRule(bare, path.join(bare, 'x.sops.yaml')), null, 'no .sops.yaml inside the root: null (the ones above it are not read)');
});
