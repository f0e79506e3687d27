// `--value-stdin` on a terminal: a prompt on stderr, raw mode (no echo) while typing, the value typed twice
// for rotate and set; a mismatch or Ctrl-C is COFFRE_USAGE and writes nothing. A fake TTY stdin through runCli.
import t from 'tap';
import { runCli } from '../../src/cli/main.js';
import { canary, makeRotateFixture } from './rotate-fixture.js';

const fixture = await makeRotateFixture(t);
const chatPath = fixture.chatPath;

/** A terminal as process.stdin is one: isTTY, setRawMode (recorded), chunks as typed. */
class FakeTty implements AsyncIterable<string> {
  readonly isTTY = true;
  readonly rawModes: boolean[] = [];
  constructor(private readonly keystrokes: string[]) {}
  setRawMode(mode: boolean): this {
    this.rawModes.push(mode);
    return this;
  }
  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    for (const chunk of this.keystrokes) {
      if (this.rawModes.at(-1) !== true) throw new Error('read while echo is on');
      yield chunk;
    }
  }
}

async function typed(argv: string[], keystrokes: string[]): Promise<{ code: number; stdout: string; stderr: string; tty: FakeTty }> {
  const tty = new FakeTty(keystrokes);
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s), isTTY: true },
    env: fixture.env,
    cwd: fixture.dir,
    stdin: tty,
  });
  return { code, stdout, stderr, tty };
}

t.test('rotate on a terminal: prompts on stderr, echo off, typed twice; backspace edits; the value is written', async (t) => {
  const value = canary('typed');
  const before = (await fixture.vaultData(chatPath)).version;
  // The second entry is typed with a slip corrected by backspace, and arrives in odd chunks.
  const result = await typed(['rotate', 'chat', 'db', 'DB_PASS', '--value-stdin'], [value.slice(0, 5), `${value.slice(5)}\r`, 'x\u007f', value, '\r']);
  t.equal(result.code, 0, result.stderr);
  t.match(result.stderr, /New value for DB_PASS \(not echoed\): \nType it again: \n/);
  t.same(result.tty.rawModes, [true, false], 'raw mode on while typing, restored after');
  t.notOk(result.stdout.includes(value) || result.stderr.includes(value), 'the value is never echoed or printed');
  const after = await fixture.vaultData(chatPath);
  t.equal(after.data.DB_PASS, value);
  t.equal(after.version, before + 1);
});

const refusals = [
  { name: 'two different values', keys: ['first-value\r', 'other-value\r'], message: /the two values typed for DB_PASS differ; nothing written/ },
  { name: 'Ctrl-C', keys: ['half\u0003'], message: /cancelled, nothing written/ },
  { name: 'Ctrl-D on an empty line', keys: ['\u0004'], message: /cancelled, nothing written/ },
  { name: 'the terminal closing mid-value', keys: ['abc'], message: /cancelled, nothing written/ },
];
for (const c of refusals) {
  t.test(`rotate on a terminal: ${c.name} is COFFRE_USAGE and nothing is written`, async (t) => {
    const before = await fixture.vaultData(chatPath);
    const result = await typed(['rotate', 'chat', 'db', 'DB_PASS', '--value-stdin'], c.keys);
    t.equal(result.code, 2);
    t.match(result.stderr, /COFFRE_USAGE/);
    t.match(result.stderr, c.message);
    t.same(result.tty.rawModes, [true, false], 'echo restored');
    t.notOk(result.stderr.includes('first-value') || result.stderr.includes('other-value'), 'no typed value in the message');
    t.same(await fixture.vaultData(chatPath), before, 'the secret is unchanged');
    t.notMatch(result.stderr, /audit:/, 'no audit line: nothing was attempted');
  });
}

t.test('set on a terminal: a mismatch writes nothing, a confirmed value is written', async (t) => {
  const mismatch = await typed(['set', 'chat', 'db', 'TTY_NOTE', '--value-stdin', '--allow-extra'], ['one\r', 'two\r']);
  t.equal(mismatch.code, 2);
  t.match(mismatch.stderr, /differ; nothing written/);
  t.equal((await fixture.vaultData(chatPath)).data.TTY_NOTE, undefined, 'the key is still absent');
  const value = canary('note');
  const ok = await typed(['set', 'chat', 'db', 'TTY_NOTE', '--value-stdin', '--allow-extra'], [`${value}\r\n`, `${value}\r\n`]);
  t.equal(ok.code, 0, ok.stderr);
  t.equal((await fixture.vaultData(chatPath)).data.TTY_NOTE, value, 'CRLF ends a line once');
});
