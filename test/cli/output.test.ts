// CLI output details: colour only on a TTY and never with NO_COLOR; configured owner/group names resolve
// through the host's account databases.
import path from 'node:path';
import t from 'tap';
import { runCli } from '../../src/cli/main.js';
import { resolvePrincipal } from '../../src/render/index.js';
import { projectRoot } from '../support/tools.js';

async function checkDemo(isTTY: boolean, env: Record<string, string>): Promise<string> {
  let stdout = '';
  await runCli(['-C', path.join(projectRoot, 'examples', 'infra'), 'check'], {
    stdout: { write: (s: string) => (stdout += s), isTTY },
    stderr: { write: () => true },
    env,
    cwd: projectRoot,
  });
  return stdout;
}

const ESC = '\u001b[';

const cases: Array<{ name: string; isTTY: boolean; env: Record<string, string>; colour: boolean }> = [
  { name: 'a TTY gets colour', isTTY: true, env: {}, colour: true },
  { name: 'a pipe gets none', isTTY: false, env: {}, colour: false },
  { name: 'NO_COLOR turns it off on a TTY', isTTY: true, env: { NO_COLOR: '1' }, colour: false },
  { name: 'TERM=dumb turns it off on a TTY', isTTY: true, env: { TERM: 'dumb' }, colour: false },
];
for (const c of cases) {
  t.test(c.name, async (t) => {
    const out = await checkDemo(c.isTTY, c.env);
    t.match(out, /etherpad/);
    t.equal(out.includes(ESC), c.colour);
  });
}

t.test('owner and group names resolve to ids; numbers pass through; unknown names are config errors', async (t) => {
  t.equal(await resolvePrincipal('owner', 'root'), 0);
  t.equal(await resolvePrincipal('group', 'root'), 0);
  t.equal(await resolvePrincipal('group', 1234), 1234);
  t.equal(await resolvePrincipal('group', '1234'), 1234);
  t.equal(await resolvePrincipal('owner', null), null);
  await t.rejects(resolvePrincipal('group', 'no-such-group-coffre'), { code: 'COFFRE_CONFIG_INVALID' });
});
