// The compose env_file grammar (every row of docs/env-file-syntax.md's table, results verified against
// compose-go), its errors, the raw kvfile dialect, and byte-exact serialisation round trips.
import t from 'tap';
import fc from 'fast-check';
import { parseEnvFile, parseEnvStatements, parseRawEnvFile, serializeEnvFile } from '../../src/core/env-file.js';
import { CoffreError } from '../../src/errors.js';

interface SyntaxCase {
  name: string;
  text: string;
  lookup?: Record<string, string>;
  /** [key, value] of every entry, in order (duplicates included). */
  expect: Array<[string, string]>;
}

const row = (name: string, text: string, expect: Array<[string, string]>, lookup?: Record<string, string>): SyntaxCase =>
  lookup === undefined ? { name, text, expect } : { name, text, expect, lookup };

// One or more cases per row of the syntax table, in table order.
const syntaxCases: SyntaxCase[] = [
  // Full-line comment
  row('skips a full-line comment, also indented', '# Shared\n   # c\nA=1\n', [['A', '1']]),
  // Commented-out key
  row('skips a commented-out key', '# TANDOOR_PORT=8080\n', []),
  // Blank lines
  row('skips blank and CRLF-only lines', '\n\r\n  \t\nA=1\n\n', [['A', '1']]),
  // Inline comment, unquoted
  row('cuts an unquoted value at " #" and trims', 'LE_STAGING=1   # set to 0 after validation\n', [['LE_STAGING', '1']]),
  row('cuts at " #" with no space after #', 'MAX_FILE_SIZE=2147483648 #aka 2 Gb\n', [['MAX_FILE_SIZE', '2147483648']]),
  row('keeps a tab before # (not a comment)', 'A=abc\t# x\n', [['A', 'abc\t# x']]),
  row('keeps # not preceded by a space', 'A=abc#def\n', [['A', 'abc#def']]),
  // Empty value + comment
  row(
    'takes the comment as value when blanks follow "=" (KEY=   # c)',
    'AP_ENCRYPTION_KEY=      # openssl rand -hex 16  (32 hex chars)\n',
    [['AP_ENCRYPTION_KEY', '# openssl rand -hex 16  (32 hex chars)']],
  ),
  row('takes "# x" as value for K= # x and K=<tab># x', 'K= # x\nL=\t# x\n', [['K', '# x'], ['L', '# x']]),
  // Inline comment after quotes
  row(
    'skips the comment after a closing quote',
    "MYSQL_PASSWORD = 'changeme123'                      # Database password\n",
    [['MYSQL_PASSWORD', 'changeme123']],
  ),
  row('reads junk after a closing quote as a bare key, dropped when unset', 'A="v"junk\n', [['A', 'v']]),
  row('reads junk after a closing quote as a bare key, kept when the lookup knows it', 'A="v"junk\n', [['A', 'v'], ['junk', 'J']], { junk: 'J' }),
  // export prefix
  row('removes an export prefix', 'export OPTION_A=2\n', [['OPTION_A', '2']]),
  row('treats "export A" as a bare key (omitted when unset)', 'export A\nB=1\n', [['B', '1']]),
  row('treats "export A" as a bare key (inherited when set)', 'export A\n', [['A', 'from-env']], { A: 'from-env' }),
  // Spaces around =
  row('trims blanks around "=" (CRLF file)', 'CF_API_EMAIL = acme@domain.tld\r\n', [['CF_API_EMAIL', 'acme@domain.tld']]),
  // YAML-style ':' separator
  row('accepts ":" as separator', 'OPTION_A: 1\n', [['OPTION_A', '1']]),
  row('splits at the first of "=" and ":"', 'A:b=c\nB=c:d\n', [['A', 'b=c'], ['B', 'c:d']]),
  // Single quotes
  row('reads single quotes literally', "PDNS_ADMIN_SQLA_DB_PASSWORD='{PASSDB}'\n", [['PDNS_ADMIN_SQLA_DB_PASSWORD', '{PASSDB}']]),
  row("keeps \\n in single quotes as two chars", "A='a\\nb'\n", [['A', 'a\\nb']]),
  row("keeps other backslashes in single quotes", "A='a\\\\b'\n", [['A', 'a\\\\b']]),
  row("turns \\' into ' in single quotes", "A='it\\'s'\n", [['A', "it's"]]),
  row('does not expand $ in single quotes', "A='$HOME ${X}'\n", [['A', '$HOME ${X}']], { HOME: '/root', X: 'x' }),
  row('lets single quotes span lines', "A='l1\nl2'\n", [['A', 'l1\nl2']]),
  // Double quotes
  row('reads a double-quoted value', 'ADMINS="Admin Name <admin@example.com>"\n', [['ADMINS', 'Admin Name <admin@example.com>']]),
  row(
    'processes escapes in double quotes',
    'A="\\a\\b\\f\\n\\r\\t\\v\\\\\\"\\$"\n',
    [['A', '\x07\b\f\n\r\t\v\\"$']],
  ),
  row('processes \\0NNN octal escapes', 'A="\\0101\\0102"\n', [['A', 'AB']]),
  row('keeps \\x07 and \\u12e4 verbatim in double quotes', 'A="\\x07\\u12e4"\n', [['A', '\\x07\\u12e4']]),
  row('expands $ after escapes in double quotes', 'A="${B}-\\$B"\n', [['A', 'b-$B']], { B: 'b' }),
  row('keeps trailing spaces inside double quotes', 'A="a  "\n', [['A', 'a  ']]),
  // Escaped chars
  row(
    'unescapes quotes inside double quotes',
    'WATCHTOWER_NOTIFICATION_TEMPLATE="{{.Time.Format \\"2006-01-02 15:04:05\\"}}"\n',
    [['WATCHTOWER_NOTIFICATION_TEMPLATE', '{{.Time.Format "2006-01-02 15:04:05"}}']],
  ),
  row('reads unquoted backslashes literally', 'COLLABORA_DOMAIN=wolke\\\\.liebechaos\\\\.org\n', [['COLLABORA_DOMAIN', 'wolke\\\\.liebechaos\\\\.org']]),
  row('reads an unquoted regexp literally', 'TRAEFIK_HOST_REGEXP=^.+\\.si\\.sh\n', [['TRAEFIK_HOST_REGEXP', '^.+\\.si\\.sh']]),
  row(
    'reads a single-quoted regexp with $ literally',
    "CORS_ALLOW_ORIGIN='^https?://(localhost|127\\.0\\.0\\.1)(:[0-9]+)?$'\n",
    [['CORS_ALLOW_ORIGIN', '^https?://(localhost|127\\.0\\.0\\.1)(:[0-9]+)?$']],
  ),
  row('keeps C:\\path\\n unquoted as typed', 'A=C:\\path\\n\n', [['A', 'C:\\path\\n']]),
  // Multi-line values
  row(
    'reads a multi-line single-quoted value',
    "OPTION_J = 'first line\nsecond line\nand so on'\nB=2\n",
    [['OPTION_J', 'first line\nsecond line\nand so on'], ['B', '2']],
  ),
  row('reads a multi-line double-quoted value and \\n', 'A="l1\nl2\\nl3"\n', [['A', 'l1\nl2\nl3']]),
  row('keeps CRLF inside quotes', 'A="l1\r\nl2"\r\n', [['A', 'l1\r\nl2']]),
  // Empty KEY=
  row('sets KEY= to the empty string', 'MYSQL_PASSWORD=\n', [['MYSQL_PASSWORD', '']]),
  // Bare KEY
  row('omits a bare key the lookup does not know', 'A\nB=1\n', [['B', '1']]),
  row('inherits a bare key from the lookup', 'A\n', [['A', 'env']], { A: 'env' }),
  row('reads a last line without "=" nor newline as key ""', 'B=2\nA', [['B', '2'], ['', 'A']]),
  // ${VAR} / $VAR
  row(
    'expands ${VAR} inside double quotes from the lookup',
    'HOMEASSISTANT_HOSTNAME="homeassistant.${BASE_HOSTNAME}"\n',
    [['HOMEASSISTANT_HOSTNAME', 'homeassistant.example.org']],
    { BASE_HOSTNAME: 'example.org' },
  ),
  row(
    'expands several references in an unquoted value',
    'OVERWRITEHOST=${NEXTCLOUD_HOSTNAME}.${MAIN_DOMAIN}\n',
    [['OVERWRITEHOST', 'cloud.example.org']],
    { NEXTCLOUD_HOSTNAME: 'cloud', MAIN_DOMAIN: 'example.org' },
  ),
  row('expands $VAR and unset to ""', 'A=$SET/$UNSET/${UNSET}\n', [['A', 'x//']], { SET: 'x' }),
  row(
    'applies :- and - defaults',
    'A=${E:-d1}|${E-d2}|${U:-d3}|${U-d4}\n',
    [['A', 'd1||d3|d4']],
    { E: '' },
  ),
  row('applies :+ and + replacements', 'A=${E:+r1}|${E+r2}|${S:+r3}|${U+r4}\n', [['A', '|r2|r3|']], { E: '', S: 's' }),
  row('passes ${V:?e} and ${V?e} when set', 'A=${S:?e}|${E?e}\n', [['A', 's|']], { S: 's', E: '' }),
  row('expands nested defaults', 'A=${U:-${V:-${W}}}\n', [['A', 'w']], { W: 'w' }),
  row('keeps $1, $- and a trailing $ literal', 'A=$1 $- x$\n', [['A', '$1 $- x$']]),
  row('turns $$ into $', 'A=a$$b\n', [['A', 'a$b']]),
  // $ in secret values
  row(
    'mangles an unquoted bcrypt hash ($Z… expands to "")',
    'BASIC_AUTH_USER=user:$2y$10$ZkKqodRFTqTper.DNIaen.k/\n',
    [['BASIC_AUTH_USER', 'user:$2y$10.DNIaen.k/']],
  ),
  row("keeps a single-quoted argon2 hash", "ADMIN_TOKEN='$argon2id$v=19$m=65540'\n", [['ADMIN_TOKEN', '$argon2id$v=19$m=65540']]),
  // Duplicate keys
  row('keeps both entries of a duplicate key, in order', 'MAX_FILE_SIZE=2684354560\nMAX_FILE_SIZE=2147483648 #aka 2 Gb\n', [
    ['MAX_FILE_SIZE', '2684354560'],
    ['MAX_FILE_SIZE', '2147483648'],
  ]),
  row('lets later lines reference earlier keys', 'A=1\nB=${A}2\n', [['A', '1'], ['B', '12']]),
  row('prefers the lookup over earlier keys', 'A=1\nB=${A}\n', [['A', '1'], ['B', 'env']], { A: 'env' }),
  // Windows line endings
  row('trims CR from unquoted values and around quotes', 'A=1\r\nB="x" \r\nC=\r\n', [['A', '1'], ['B', 'x'], ['C', '']]),
  // No final newline
  row('reads a last line without newline', 'POSTGRES_PASSWORD={DBROOTPASS}', [['POSTGRES_PASSWORD', '{DBROOTPASS}']]),
  // UTF-8 BOM
  row('strips a UTF-8 BOM', '\ufeffA=1\n', [['A', '1']]),
  // Keys with . - [] and lower case
  row('accepts dashes and lower case in keys', 'TRAEFIK_CERTIFICATESRESOLVERS_lets-encrypt_ACME_EMAIL=postmaster@example.com\n', [
    ['TRAEFIK_CERTIFICATESRESOLVERS_lets-encrypt_ACME_EMAIL', 'postmaster@example.com'],
  ]),
  row('accepts dots, brackets, digits first and unicode letters', 'VAR.WITH.DOTS=dots\nA[0]=x\n1KEY=y\nÉTÉ=z\n', [
    ['VAR.WITH.DOTS', 'dots'],
    ['A[0]', 'x'],
    ['1KEY', 'y'],
    ['ÉTÉ', 'z'],
  ]),
  // = inside value
  row(
    'keeps "=" inside a value',
    'MM_SQLSETTINGS_DATASOURCE=postgres://mattermost:changeme@database:5432/mattermost?sslmode=disable&connect_timeout=10\n',
    [['MM_SQLSETTINGS_DATASOURCE', 'postgres://mattermost:changeme@database:5432/mattermost?sslmode=disable&connect_timeout=10']],
  ),
  row('keeps "=" inside a quoted value', 'ANONYMOUS_IP_RANGE_GROUPS="127.0.0.1/32=Moderators,127.0.0.0/8=localhost"\n', [
    ['ANONYMOUS_IP_RANGE_GROUPS', '127.0.0.1/32=Moderators,127.0.0.0/8=localhost'],
  ]),
  // # inside value
  row('keeps # in a quoted value and after no space', "LEAN_PRIMARY_COLOR = '#1b75bb'\nUI_COLOR_PRIMARY=#ea5e0f\n", [
    ['LEAN_PRIMARY_COLOR', '#1b75bb'],
    ['UI_COLOR_PRIMARY', '#ea5e0f'],
  ]),
  // Quotes inside an unquoted value
  row('keeps quotes inside an unquoted value', "PDNS_ADMIN_RECORDS_ALLOW_EDIT=['SOA', 'NS', 'A']\n", [['PDNS_ADMIN_RECORDS_ALLOW_EDIT', "['SOA', 'NS', 'A']"]]),
  // Placeholder syntax that looks like templating
  row('reads {TOKEN} and <token> literally', 'PDNS_gpgsql_password={PASSDB}\nGTS_DB_PASSWORD=<change_me>\n', [
    ['PDNS_gpgsql_password', '{PASSDB}'],
    ['GTS_DB_PASSWORD', '<change_me>'],
  ]),
  // Docker secrets file
  row('finds no key in a comment-only docker secrets example', '# the root password\n# of mysql\n# goes here\n', []),
];

t.test('compose env_file syntax table', async (t) => {
  for (const c of syntaxCases) {
    t.test(c.name, async (t) => {
      const lookup = c.lookup;
      const file = parseEnvFile(c.text, lookup === undefined ? {} : { lookup: (name) => lookup[name] });
      t.same(file.entries.map((e) => [e.key, e.value]), c.expect);
    });
  }
});

t.test('records line, quote kind and interpolation of each entry', async (t) => {
  const { entries } = parseEnvFile("# c\nA=1\nB='x\ny'\nC=\"${A}\"\nD=$$\n", {});
  t.same(
    entries.map((e) => [e.key, e.line, e.quote, e.interpolated]),
    [
      ['A', 2, 'none', false],
      ['B', 3, 'single', false],
      ['C', 5, 'double', true],
      ['D', 6, 'none', false],
    ],
  );
  t.equal(entries[2]!.template, '${A}');
});

t.test('parseEnvStatements reports bare keys, spans and the blanks after "="', async (t) => {
  const statements = parseEnvStatements("A\nB=   # c\nC='1\n2\n3'\n");
  t.same(
    statements.map((s) => [s.kind, s.key, s.found, s.line, s.endLine, s.gapAfterSeparator]),
    [
      ['bare', 'A', false, 1, 1, ''],
      ['assignment', 'B', true, 2, 2, '   '],
      ['assignment', 'C', true, 3, 5, ''],
    ],
  );
});

interface ErrorCase {
  name: string;
  text: string;
  line: number;
  message: RegExp;
  secret?: string;
}

const errorCases: ErrorCase[] = [
  { name: 'a space inside a key', text: 'A=1\nMY KEY=x\n', line: 2, message: /cannot contain a space/ },
  { name: 'an unterminated double quote', text: 'A=1\nB="hunter2\nC=3\n', line: 2, message: /unterminated quoted value/, secret: 'hunter2' },
  { name: 'an unterminated single quote', text: "\n\nB='hunter2", line: 3, message: /unterminated quoted value/, secret: 'hunter2' },
  { name: 'an unclosed ${', text: 'A=1\nB=x${hunter2\n', line: 2, message: /invalid template/, secret: 'hunter2' },
  { name: 'a ${ with a bad name', text: 'B=${1x}\n', line: 1, message: /invalid template/ },
  { name: 'a missing required variable', text: 'A=${DB:?hunter2}\n', line: 1, message: /required variable DB/, secret: 'hunter2' },
  { name: 'a missing non-empty variable', text: 'A=${DB:?}\n', line: 1, message: /required variable DB/ },
  { name: 'an unexpected character in a key', text: 'A=1\n\nB"=x\n', line: 3, message: /unexpected character "\\"" in a variable name/ },
  { name: 'a BOM not at the start', text: 'A=1\n\ufeffB=2\n', line: 2, message: /unexpected character U\+FEFF/ },
  { name: '"export" at the end of the file', text: 'A=1\nexport ', line: 2, message: /export/ },
  { name: 'used ${…} defaults nested too deep for the stack', text: `A=1\nB=${'${U:-'.repeat(5000)}x${'}'.repeat(5000)}\n`, line: 2, message: /nested more than 64 deep/ },
];

t.test('syntax errors are CoffreErrors with file and line, never the value', async (t) => {
  for (const c of errorCases) {
    t.test(c.name, async (t) => {
      let error: unknown;
      try {
        parseEnvFile(c.text, { file: 'svc/db.secrets.example' });
      } catch (e) {
        error = e;
      }
      t.type(error, CoffreError);
      const e = error as CoffreError;
      t.equal(e.code, 'COFFRE_EXAMPLE_SYNTAX');
      t.same(e.location, { file: 'svc/db.secrets.example', line: c.line });
      t.match(e.message, c.message);
      if (c.secret !== undefined) t.notOk(e.message.includes(c.secret), 'message does not quote the value');
    });
  }
  t.test('without a file name, the message starts with the line', async (t) => {
    t.throws(() => parseEnvFile('X="open\n'), { code: 'COFFRE_EXAMPLE_SYNTAX', message: /^line 1: / });
  });
  t.test('missingRequired: empty expands a missing required variable to ""', async (t) => {
    t.same(parseEnvFile('A=x${DB:?set it}y\n', { missingRequired: 'empty' }).entries[0]!.value, 'xy');
  });
});

t.test('long lines of expansions stay linear and nested defaults work', async (t) => {
  const started = Date.now();
  const chain = parseEnvFile(`A=${'${U:-x}'.repeat(50000)}\n`, {});
  t.equal(chain.entries[0]!.value, 'x'.repeat(50000));
  t.throws(() => parseEnvFile(`B=${'${V:-'.repeat(50000)}\n`), { code: 'COFFRE_EXAMPLE_SYNTAX' }, 'unclosed ${ everywhere');
  t.ok(Date.now() - started < 2000, 'parsed in under 2 s');
  t.equal(parseEnvFile(`A=${'${U:-'.repeat(60)}x${'}'.repeat(60)}\n`).entries[0]!.value, 'x');
});

t.test('never crashes: any input parses or throws a CoffreError', async (t) => {
  const alphabet = ['A', 'b', '=', ':', ' ', '\t', '\n', '\r', '#', '"', "'", '\\', '$', '{', '}', '-', '?', '+', 'é', '😀', '\ufeff', '\u00a0', 'export '];
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...alphabet), { maxLength: 40 }), (parts) => {
      const text = parts.join('');
      try {
        parseEnvFile(text);
        parseRawEnvFile(text);
      } catch (e) {
        return e instanceof CoffreError;
      }
      return true;
    }),
    { numRuns: 5000 },
  );
  t.pass('5000 random inputs');
});

t.test('raw (docker/cli kvfile) dialect', async (t) => {
  const cases: Array<{ name: string; text: string; expect: Array<[string, string]>; strip?: boolean }> = [
    { name: 'keeps the value verbatim: $, #, backslashes, trailing blanks', text: 'A=$x # not a comment \\n  \n', expect: [['A', '$x # not a comment \\n  ']] },
    { name: 'skips comments and blank lines, trims leading blanks', text: '# c\n\n   B=1\n\t# d\n', expect: [['B', '1']] },
    { name: 'drops the CR of CRLF lines and a BOM', text: '\ufeffA=1\r\nB=2\r\n', expect: [['A', '1'], ['B', '2']] },
    { name: 'strips one pair of matching outer quotes', text: 'A="x"\nB=\'y\'\nC="z\'\nD=""\nE="\n', expect: [['A', 'x'], ['B', 'y'], ['C', '"z\''], ['D', ''], ['E', '"']] },
    { name: 'keeps the quotes when told to', text: 'A="x"\n', expect: [['A', '"x"']], strip: false },
    { name: 'omits a key without "=" the lookup does not know', text: 'A\nB=\n', expect: [['B', '']] },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const { entries } = parseRawEnvFile(c.text, c.strip === undefined ? {} : { stripMatchingQuotes: c.strip });
      t.same(entries.map((e) => [e.key, e.value]), c.expect);
    });
  }
  t.test('inherits a key without "=" from the lookup', async (t) => {
    t.same(parseRawEnvFile('A\n', { lookup: (k) => (k === 'A' ? 'v' : undefined) }).entries.map((e) => e.value), ['v']);
  });
  t.test('rejects whitespace in a key and an empty key, with the line', async (t) => {
    t.throws(() => parseRawEnvFile('A=1\nMY KEY=x\n', { file: 'f' }), { code: 'COFFRE_EXAMPLE_SYNTAX', location: { file: 'f', line: 2 } });
    t.throws(() => parseRawEnvFile('=x\n', { file: 'f' }), { code: 'COFFRE_EXAMPLE_SYNTAX', location: { file: 'f', line: 1 } });
  });
  t.test('rejects a line over 64 KiB like bufio.Scanner', async (t) => {
    t.throws(() => parseRawEnvFile(`A=${'x'.repeat(70000)}\n`), { code: 'COFFRE_EXAMPLE_SYNTAX' });
    t.equal(parseRawEnvFile(`A=${'x'.repeat(65533)}\n`).entries[0]!.value.length, 65533);
  });
});

t.test('serializeEnvFile compose: the documented byte-exact form', async (t) => {
  const text = serializeEnvFile(
    [
      { key: 'A', value: 'plain' },
      { key: 'B', value: 'a\\b"c$d\ne\rf' },
      { key: 'C', value: '' },
    ],
    'compose',
  );
  t.equal(text, 'A="plain"\nB="a\\\\b\\"c\\$d\\ne\\rf"\nC=""\n');
  t.equal(serializeEnvFile([], 'compose'), '');
  t.throws(() => serializeEnvFile([{ key: 'MY KEY', value: 'x' }], 'compose'), { code: 'COFFRE_RENDER_MISMATCH' });
});

// The hostile alphabet of the design doc, plus emoji and blanks compose trims.
const hostile = ['$', '#', "'", '"', '\\', '{', '}', '=', ':', '\t', '\n', '\r', ' ', 'é', '😀', '`', 'a', 'Z', '0', 'n', '\u00a0', '\v', '${A}', '$$', ' #'];
const hostileValue = fc.array(fc.constantFrom(...hostile), { maxLength: 24 }).map((parts) => parts.join(''));

t.test('compose round trip: serialised values parse back identical (property, 6000 runs)', async (t) => {
  fc.assert(
    fc.property(fc.array(hostileValue, { minLength: 1, maxLength: 4 }), (values) => {
      const entries = values.map((value, i) => ({ key: `KEY_${i}`, value }));
      // a lookup that knows A proves serialised values never expand references
      const parsed = parseEnvFile(serializeEnvFile(entries, 'compose'), { lookup: (n) => (n === 'A' ? 'expanded' : undefined) });
      return JSON.stringify(parsed.entries.map((e) => ({ key: e.key, value: e.value }))) === JSON.stringify(entries);
    }),
    { numRuns: 6000 },
  );
  t.pass('6000 random value lists round-tripped');
});

t.test('raw round trip: values raw accepts parse back identical (property, 6000 runs)', async (t) => {
  let accepted = 0;
  fc.assert(
    fc.property(hostileValue, (value) => {
      let text: string;
      try {
        text = serializeEnvFile([{ key: 'KEY', value }], 'raw');
      } catch (e) {
        // refused only for what the kvfile cannot carry
        return (
          e instanceof CoffreError && e.code === 'COFFRE_RAW_VALUE_UNSUPPORTED' &&
          (/[\n\r]/.test(value) || (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0]))
        );
      }
      accepted++;
      const { entries } = parseRawEnvFile(text);
      return entries.length === 1 && entries[0]!.key === 'KEY' && entries[0]!.value === value;
    }),
    { numRuns: 6000 },
  );
  t.ok(accepted > 2000, `raw accepted ${accepted} of 6000 values`);
});

t.test('serializeEnvFile raw refuses what the kvfile cannot carry, naming the key only', async (t) => {
  const refused: Array<[string, string]> = [
    ['newline', 'hunter2\nx'],
    ['carriage return', 'hunter2\r'],
    ['matching double quotes', '"hunter2"'],
    ['matching single quotes', "'hunter2'"],
    ['a line over 64 KiB', 'h'.repeat(70000)],
  ];
  for (const [why, value] of refused) {
    t.test(why, async (t) => {
      let error: unknown;
      try {
        serializeEnvFile([{ key: 'DB_PASSWORD', value }], 'raw');
      } catch (e) {
        error = e;
      }
      t.type(error, CoffreError);
      t.equal((error as CoffreError).code, 'COFFRE_RAW_VALUE_UNSUPPORTED');
      t.match((error as CoffreError).message, /DB_PASSWORD/);
      t.notOk((error as CoffreError).message.includes('hunter2'));
    });
  }
  t.equal(serializeEnvFile([{ key: 'A', value: ' $x # "y\' ' }], 'raw'), 'A= $x # "y\' \n', 'keeps blanks, $ and # verbatim');
});

t.test('interpolation output is bounded per value and per file, with the line named', async (t) => {
  let doubling = 'A0=xxxxxxxxxxxxxxxx\n';
  for (let i = 1; i <= 30; i++) doubling += `A${i}=\${A${i - 1}}\${A${i - 1}}\n`;
  t.throws(() => parseEnvFile(doubling, { file: '.env' }), { code: 'COFFRE_EXAMPLE_SYNTAX', location: { file: '.env', line: 18 }, message: /more than 1048576 characters \(value of "A17"\)/ });
  const big = 'x'.repeat(600_000);
  const many = Array.from({ length: 20 }, (_, i) => `K${i}=\${BIG}\n`).join('');
  t.throws(() => parseEnvFile(many, { file: '.env', lookup: (name) => (name === 'BIG' ? big : undefined) }), {
    code: 'COFFRE_EXAMPLE_SYNTAX',
    location: { line: 14 },
    message: /add up to more than 8388608 characters/,
  });
});
