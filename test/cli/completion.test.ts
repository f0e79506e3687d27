// Shell completion: each script names every command and every option of the command table (the one --help and
// the parser use); the bash script is valid bash and completes `coffre ch` to check, options and --format values.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { COMMON_OPTIONS } from '../../src/cli/args.js';
import { commands, runCli } from '../../src/cli/main.js';

const exec = promisify(execFile);

async function script(shell: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['completion', shell], { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env: {}, cwd: process.cwd() });
  return { code, stdout, stderr };
}

/** A word of the script, delimited so that `--all` does not match inside `--all-x`. */
const hasWord = (text: string, word: string): boolean => new RegExp(`(^|[\\s'"(|{=])${word.replace(/[-]/g, '\\-')}($|[\\s'")|}\\[:=])`, 'm').test(text);

for (const shell of ['bash', 'zsh', 'fish']) {
  t.test(`${shell}: names every command and every option of the table`, async (t) => {
    const { code, stdout } = await script(shell);
    t.equal(code, 0);
    for (const [name, load] of Object.entries(commands)) {
      const command = await load();
      t.ok(hasWord(stdout, name), `command ${name}`);
      for (const option of [...COMMON_OPTIONS, ...command.options]) {
        const long = shell === 'fish' ? `-l ${option.name}` : `--${option.name}`;
        t.ok(stdout.includes(long), `${name} ${long}`);
        if (option.short) t.ok(stdout.includes(shell === 'fish' ? `-s ${option.short}` : `-${option.short}`), `${name} -${option.short}`);
      }
    }
    // A few literal ones, in case the table itself lost them.
    for (const literal of ['check', 'render', 'rotate', 'serve', 'completion']) t.ok(hasWord(stdout, literal), literal);
    t.ok(stdout.includes(shell === 'fish' ? '-l keys-only' : '--keys-only'));
    t.ok(stdout.includes(shell === 'fish' ? '-l force-incomplete' : '--force-incomplete'));
    t.ok(stdout.includes('json junit'), 'check --format values');
    t.ok(stdout.includes('check render admin'), 'token --role values');
  });
}

t.test('an unknown shell is a usage error', async (t) => {
  const result = await script('powershell');
  t.equal(result.code, 2);
  t.match(result.stderr, /COFFRE_USAGE: completion takes one shell name: bash, zsh, fish/);
});

t.test('bash: the script parses (bash -n) and completes commands, options and values', async (t) => {
  const dir = t.testdir({ web: {}, 'notes.txt': '' });
  const file = path.join(dir, 'coffre.bash');
  await writeFile(file, (await script('bash')).stdout);
  await exec('bash', ['-n', file]);
  const complete = async (...words: string[]): Promise<string[]> => {
    const array = words.map((w) => `'${w}'`).join(' ');
    const { stdout } = await exec('bash', ['-c', `source '${file}'; COMP_WORDS=(${array}); COMP_CWORD=${words.length - 1}; _coffre; printf '%s\\n' "\${COMPREPLY[@]}"`], { cwd: dir });
    return stdout.split('\n').filter((l) => l !== '');
  };
  t.same(await complete('coffre', 'ch'), ['check'], 'coffre ch → check');
  t.same((await complete('coffre', 'r')).sort(), ['render', 'rollback', 'rotate']);
  t.same(await complete('coffre', '-C', 'x', 'comp'), ['completion'], '-C DIR before the command is skipped');
  t.same((await complete('coffre', 'check', '--k')), ['--keys-only']);
  t.same((await complete('coffre', 'check', '--format', 'j')).sort(), ['json', 'junit']);
  t.same(await complete('coffre', 'render', '--format', 'j'), ['json'], 'render has no junit');
  t.same(await complete('coffre', 'token', 'n'), ['new']);
  t.same(await complete('coffre', 'token', 'new', '--role', 'a'), ['admin']);
  t.same(await complete('coffre', 'check', 'w'), ['web'], 'a positional completes service folders');
  t.same(await complete('coffre', 'completion', 'f'), ['fish']);
});
