import t from 'tap';
import { interpolateComposeString } from '../../src/repo/compose-interpolation.js';

t.test('interpolateComposeString follows compose-go template rules', async (t) => {
  const env: Record<string, string> = { ROOT: '/srv', EMPTY: '', NAME: 'wiki' };
  const lookup = (name: string) => env[name];
  const cases: Array<{ name: string; text: string; value?: string; reason?: RegExp }> = [
    { name: 'plain text is unchanged', text: 'secrets/db.secrets', value: 'secrets/db.secrets' },
    { name: 'braced variable', text: '${ROOT}/x.env', value: '/srv/x.env' },
    { name: 'unbraced variable', text: '$ROOT/x.env', value: '/srv/x.env' },
    { name: 'unbraced name stops at a non-name char', text: '$NAME.env', value: 'wiki.env' },
    { name: ':- default when unset', text: '${CONFIG_ROOT:-.}/vaultwarden/.env', value: './vaultwarden/.env' },
    { name: ':- default when empty', text: '${EMPTY:-d}', value: 'd' },
    { name: '- keeps an empty value', text: '${EMPTY-d}x', value: 'x' },
    { name: '- default when unset', text: '${NOPE-d}', value: 'd' },
    { name: ':- value when set', text: '${ROOT:-.}', value: '/srv' },
    { name: 'nested default', text: '${NOPE:-${ROOT}/in}', value: '/srv/in' },
    { name: 'doubly nested default', text: '${A:-${B:-${NAME}}}', value: 'wiki' },
    { name: 'unused default is not evaluated', text: '${ROOT:-${MISSING}}', value: '/srv' },
    { name: ':+ replacement when set', text: 'a${NAME:+-x}', value: 'a-x' },
    { name: ':+ empty when empty', text: 'a${EMPTY:+-x}', value: 'a' },
    { name: '+ replacement when set even if empty', text: 'a${EMPTY+-x}', value: 'a-x' },
    { name: '$$ is a literal dollar', text: 'a$$b', value: 'a$b' },
    { name: 'empty set variable is allowed', text: 'x${EMPTY}y', value: 'xy' },
    { name: 'unset variable without default fails', text: '${CONFIG_ROOT}/x', reason: /CONFIG_ROOT is not set/ },
    { name: 'unset unbraced variable fails', text: '$CONFIG_ROOT/x', reason: /CONFIG_ROOT is not set/ },
    { name: ':? fails with its message', text: '${NOPE:?set NOPE}', reason: /NOPE is required: set NOPE/ },
    { name: ':? fails on empty', text: '${EMPTY:?e}', reason: /EMPTY is required/ },
    { name: '? accepts empty', text: '${EMPTY?e}z', value: 'z' },
    { name: 'unclosed brace fails', text: '${ROOT/x', reason: /unclosed/ },
    { name: 'a dollar before a digit fails', text: 'a$1', reason: /invalid "\$"/ },
    { name: 'a trailing dollar fails', text: 'a$', reason: /invalid "\$"/ },
    { name: 'bad operator fails', text: '${ROOT%x}', reason: /invalid/ },
  ];
  for (const c of cases) {
    const result = interpolateComposeString(c.text, lookup);
    if (c.value !== undefined) t.same(result, { ok: true, value: c.value }, c.name);
    else t.match(result, { ok: false, reason: c.reason }, c.name);
  }
});
