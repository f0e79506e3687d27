// Progress and quiet output of check and render: a progress line on a TTY stderr only (redrawn with \r, cleared
// at the end), never on a pipe or with a machine format; --quiet keeps problems and the summary; render of
// several services repeats its refusals and ends with a summary line.
import { execFile } from 'node:child_process';
import { cp } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { runCli } from '../../src/cli/main.js';
import { projectRoot } from '../support/tools.js';

const exec = promisify(execFile);

async function coffre(argv: string[], tty: boolean, progressDelayMs = 0): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: { write: (s: string) => (stdout += s), isTTY: tty },
    stderr: { write: (s: string) => (stderr += s), isTTY: tty, columns: 200 },
    env: { NO_COLOR: '1' },
    cwd: projectRoot,
    progressDelayMs,
  });
  return { code, stdout, stderr };
}

const demo = path.join(projectRoot, 'examples', 'infra');
const CLEAR = '\r\u001b[K';

t.test('check on a TTY draws a progress line on stderr, redrawn in place and cleared at the end', async (t) => {
  const { stdout, stderr } = await coffre(['-C', demo, 'check'], true);
  t.match(stderr, /\rcoffre check: 0\/3 services, waiting on \S+\u001b\[K/, 'first state: nothing done, a service named');
  t.match(stderr, /\rcoffre check: 3\/3 services\u001b\[K/, 'last state: all done');
  t.ok(stderr.endsWith(CLEAR), 'the line is cleared at the end');
  t.notOk(stderr.includes('\n'), 'one line only, never a newline');
  t.notMatch(stdout, /coffre check: \d/, 'no progress on stdout');
});

const silentCases: Array<{ name: string; argv: string[]; tty: boolean; delay?: number }> = [
  { name: 'a pipe (stderr not a TTY)', argv: ['check'], tty: false },
  { name: '--format json', argv: ['check', '--format', 'json'], tty: true },
  { name: '--format junit', argv: ['check', '-f', 'junit'], tty: true },
  { name: 'a run shorter than the delay', argv: ['check'], tty: true, delay: 60_000 },
];
for (const c of silentCases) {
  t.test(`no progress line with ${c.name}`, async (t) => {
    const { stderr } = await coffre(['-C', demo, ...c.argv], c.tty, c.delay ?? 0);
    t.notMatch(stderr, /coffre check: \d/);
    t.notOk(stderr.includes('\r'));
  });
}

t.test('check --quiet prints only files needing attention and the summary', async (t) => {
  const full = await coffre(['-C', demo, 'check'], false);
  const quiet = await coffre(['-C', demo, 'check', '-q'], false);
  t.equal(quiet.code, full.code);
  t.match(full.stdout, /mattermost/, 'the full report names the complete service');
  t.notMatch(quiet.stdout, /mattermost|website/, 'quiet leaves complete services out');
  t.match(quiet.stdout, /etherpad[\s\S]*incomplete/, 'and keeps the incomplete one');
  const summary = /3 services, \d+ secrets files: .*\n$/;
  t.match(full.stdout, summary);
  t.match(quiet.stdout, summary, 'quiet ends with the same summary line');
});

t.test('render --all: progress on a TTY, refusals repeated at the end, a summary line; --quiet keeps only those', async (t) => {
  const dir = t.testdir();
  await cp(demo, dir, { recursive: true });
  await exec('git', ['init', '-q', dir]);
  const first = await coffre(['-C', dir, 'render', '--all'], true);
  t.equal(first.code, 1, 'etherpad refused (incomplete)');
  t.match(first.stderr, /\rcoffre render: 3\/3 services\u001b\[K/);
  t.ok(first.stderr.endsWith(CLEAR));
  const lines = first.stdout.trimEnd().split('\n');
  t.equal(lines.at(-1), '3 services: 2 rendered, 0 unchanged, 1 refused, 0 failed', 'summary line last');
  t.equal(lines.at(-4), 'not rendered (1):');
  t.match(lines.at(-3), /^ {2}etherpad: refused/, 'the refusal repeated at the end');

  const again = await coffre(['-C', dir, 'render', '--all', '--quiet'], false);
  t.equal(again.code, 1);
  t.notMatch(again.stdout, /mattermost|website/, 'quiet leaves out services that went well');
  t.match(again.stdout, /^etherpad: REFUSED/m);
  t.ok(again.stdout.endsWith('3 services: 0 rendered, 2 unchanged, 1 refused, 0 failed\n'));
  t.equal(again.stderr, '', 'no progress on a pipe');

  const json = await coffre(['-C', dir, 'render', '--all', '--format', 'json'], true);
  t.notOk(json.stderr.includes('\r'), 'no progress with --format json');
  t.doesNotThrow(() => JSON.parse(json.stdout));
});

t.test('a run stuck on one service still shows its line once the delay is over', async (t) => {
  const { progressLine } = await import('../../src/cli/progress-line.js');
  let stderr = '';
  const line = progressLine({ stdout: { write: () => true }, stderr: { write: (s: string) => (stderr += s), isTTY: true }, env: {}, cwd: '/', progressDelayMs: 50 }, 'check', true);
  line.update({ done: 0, total: 2, running: 'slow' });
  t.equal(stderr, '', 'nothing before the delay');
  await new Promise((resolve) => setTimeout(resolve, 120));
  t.equal(stderr, '\rcoffre check: 0/2 services, waiting on slow\u001b[K', 'drawn by the timer, no update needed');
  line.end();
  t.ok(stderr.endsWith('\r\u001b[K'));
});
