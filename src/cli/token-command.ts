// `coffre token new --role check|render|admin [--services GLOB[,GLOB]] [--id ID]`: mints an API token, prints
// it once and the tokens-file line that admits it (only its sha256 is ever stored).
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { CoffreError } from '../errors.js';
import { mintToken, ROLES, type Role } from '../http/token-registry.js';
import type { CliIo } from './io.js';

export const tokenUsage = `usage: coffre token new --role check|render|admin [--services GLOB[,GLOB]] [--id ID]

Prints a new random API token for \`coffre serve\` (shown once: store it now) and the line to add under
\`tokens:\` in the tokens file. The file keeps only the token's sha256.
  --role ROLE        check (GET /v1/services, /v1/check), render (check + render), admin (everything)
  --services GLOBS   comma-separated service-name globs the token may act on (default **, every service)
  --id ID            a name for logs and audit lines (default: role and a random suffix)`;

export async function tokenCommand(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    io.stdout.write(`${tokenUsage}\n`);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'new') throw new CoffreError('COFFRE_USAGE', `unknown token subcommand "${sub}" (expected: new)`);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: false,
    options: {
      role: { type: 'string' },
      services: { type: 'string', default: '**' },
      id: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  void positionals;
  if (values.help) {
    io.stdout.write(`${tokenUsage}\n`);
    return 0;
  }
  if (!values.role || !(ROLES as readonly string[]).includes(values.role)) {
    throw new CoffreError('COFFRE_USAGE', `--role must be one of ${ROLES.join(', ')}`);
  }
  const role = values.role as Role;
  const services = values.services.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (services.length === 0) throw new CoffreError('COFFRE_USAGE', '--services needs at least one glob');
  const id = values.id ?? `${role}-${randomBytes(3).toString('hex')}`;
  const { token, yamlLine } = mintToken({ id, role, services });
  io.stderr.write('New API token (shown once; store it now, e.g. in your CI secret store):\n');
  io.stdout.write(`${token}\n`);
  io.stderr.write('Add this line under `tokens:` in the tokens file given to `coffre serve --tokens`:\n');
  io.stdout.write(`${yamlLine}\n`);
  return 0;
}
