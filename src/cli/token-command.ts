// `coffre token new --role check|render|admin [--services GLOB[,GLOB]] [--id ID] [--tokens FILE]`: mints an API
// token, shows it once on stderr, and gives the tokens-file line that admits it (only its sha256) on stdout or
// appended to FILE — so `>> tokens.yaml` never stores a clear token.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { CoffreError } from '../errors.js';
import { mintToken, parseTokensFile, ROLES, type Role } from '../http/token-registry.js';
import { stringOf, type CliCommand, type Invocation } from './command.js';
import type { CliIo } from './io.js';

export const tokenUsage = `usage: coffre token new --role check|render|admin [--services GLOB[,GLOB]] [--id ID] [--tokens FILE]

Mints a random API token for \`coffre serve\`. The token itself goes to stderr (shown once: store it now);
the line to add under \`tokens:\` in the tokens file goes to stdout (\`>> tokens.yaml\` is safe), or is appended
to FILE with --tokens. The file keeps only the token's sha256.
  --role ROLE        check (GET /v1/services, /v1/check), render (check + render), admin (everything)
  --services GLOBS   comma-separated service-name globs the token may act on (default **, every service)
  --id ID            a name for logs and audit lines (default: role and a random suffix)
  --tokens FILE      append the line to FILE (created with \`tokens:\` and mode 0600 if absent; checked first)`;

export const tokenCommand: CliCommand = {
  summary: 'mint an API token for serve (`coffre token new --role R`)',
  usage: tokenUsage,
  subcommands: ['new'],
  options: [
    { name: 'role', type: 'string', values: ROLES },
    { name: 'services', type: 'string' },
    { name: 'id', type: 'string' },
    { name: 'tokens', type: 'string' },
  ],
  run: token,
};

async function token({ values, positionals }: Invocation, io: CliIo): Promise<number> {
  const [sub, ...extra] = positionals;
  if (sub === undefined) {
    io.stdout.write(`${tokenUsage}\n`);
    return 2;
  }
  if (sub !== 'new') throw new CoffreError('COFFRE_USAGE', `unknown token subcommand "${sub}" (expected: new)`);
  if (extra.length > 0) throw new CoffreError('COFFRE_USAGE', `token new takes no positional argument, got "${extra[0]}"`);
  const roleName = stringOf(values, 'role');
  if (!roleName || !(ROLES as readonly string[]).includes(roleName)) {
    throw new CoffreError('COFFRE_USAGE', `--role must be one of ${ROLES.join(', ')}`);
  }
  const role = roleName as Role;
  const services = (stringOf(values, 'services') ?? '**').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (services.length === 0) throw new CoffreError('COFFRE_USAGE', '--services needs at least one glob');
  const id = stringOf(values, 'id') ?? `${role}-${randomBytes(3).toString('hex')}`;
  const { token, yamlLine } = mintToken({ id, role, services });
  const file = stringOf(values, 'tokens');
  if (file !== undefined) await appendTokenLine(path.resolve(io.cwd, file), yamlLine);
  io.stderr.write(`New API token (shown once; store it now, e.g. in your CI secret store):\n${token}\n`);
  if (file !== undefined) {
    io.stderr.write(`Its line (id ${JSON.stringify(id)}, sha256 only) was added to ${file}.\n`);
  } else {
    io.stderr.write('Add the line below (on stdout) under `tokens:` in the tokens file given to `coffre serve --tokens`:\n');
    io.stdout.write(`${yamlLine}\n`);
  }
  return 0;
}

/**
 * Appends `line` to the tokens file, creating it (`tokens:` header, mode 0600) when absent. The file as it would
 * become is parsed first, so a duplicate id or a broken file is refused with nothing written. No symlink.
 */
async function appendTokenLine(file: string, line: string): Promise<void> {
  let handle;
  try {
    handle = await open(file, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  } catch (error) {
    throw new CoffreError('COFFRE_CONFIG_INVALID', `cannot open the tokens file ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, { file }, { cause: error });
  }
  try {
    const existing = await handle.readFile('utf8');
    const addition = existing.trim() === '' ? `tokens:\n${line}\n` : `${existing.endsWith('\n') ? '' : '\n'}${line}\n`;
    const whole = existing.trim() === '' ? addition : existing + addition;
    parseTokensFile(whole, file);
    await handle.write(addition);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
