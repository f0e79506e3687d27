// `coffre token new --role check|render|admin [--services GLOB[,GLOB]] [--id ID]`: mints an API token, prints
// it once and the tokens-file line that admits it (only its sha256 is ever stored).
import { randomBytes } from 'node:crypto';
import { CoffreError } from '../errors.js';
import { mintToken, ROLES, type Role } from '../http/token-registry.js';
import { stringOf, type CliCommand, type Invocation } from './command.js';
import type { CliIo } from './io.js';

export const tokenUsage = `usage: coffre token new --role check|render|admin [--services GLOB[,GLOB]] [--id ID]

Prints a new random API token for \`coffre serve\` (shown once: store it now) and the line to add under
\`tokens:\` in the tokens file. The file keeps only the token's sha256.
  --role ROLE        check (GET /v1/services, /v1/check), render (check + render), admin (everything)
  --services GLOBS   comma-separated service-name globs the token may act on (default **, every service)
  --id ID            a name for logs and audit lines (default: role and a random suffix)`;

export const tokenCommand: CliCommand = {
  summary: 'mint an API token for serve (`coffre token new --role R`)',
  usage: tokenUsage,
  options: [
    { name: 'role', type: 'string' },
    { name: 'services', type: 'string' },
    { name: 'id', type: 'string' },
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
  io.stderr.write('New API token (shown once; store it now, e.g. in your CI secret store):\n');
  io.stdout.write(`${token}\n`);
  io.stderr.write('Add this line under `tokens:` in the tokens file given to `coffre serve --tokens`:\n');
  io.stdout.write(`${yamlLine}\n`);
  return 0;
}
