// `coffre [-C DIR] serve [--listen HOST:PORT] [--tokens FILE] [--tls-cert F --tls-key F] [--allowed-host H]...
//   [--trust-proxy ADDR,...] [--insecure-no-auth]`
// The edge of the HTTP service: parses options and files once, creates the one logger, opens the workspace,
// builds the app, listens, and returns 0 once a SIGTERM/SIGINT closed it.
import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { DestinationStream } from 'pino';
import { CoffreError } from '../errors.js';
import { buildApp } from '../http/app.js';
import { createLogger } from '../http/logger.js';
import { createServerMetrics } from '../http/metrics.js';
import { parseAllowedHost, parseTrustedProxy } from '../http/request-origin.js';
import { closeOnSignals, isLoopbackHost, listen, parseListenAddress } from '../http/server.js';
import { loadTokensFile } from '../http/token-registry.js';
import { createDiscoveryCache } from '../repo/discovery-cache.js';
import { createExampleCache } from '../repo/example-cache.js';
import { createGitVerdictCache } from '../render/index.js';
import { optimiseHttpParserForLongRun } from '../sources/vault-transport.js';
import { openVaultSession, openWorkspace, tellExecutable } from '../use-cases/workspace.js';
import { flagOf, listOf, stringOf, type CliCommand, type Invocation } from './command.js';
import type { CliIo } from './io.js';
import { VERSION } from './main.js';
import { locateRepo } from './repo-root.js';

export const serveUsage = `usage: coffre [-C DIR] serve [--listen HOST:PORT] [--tokens FILE] [--tls-cert FILE --tls-key FILE]
                             [--allowed-host HOST]... [--trust-proxy ADDR[,ADDR]] [--insecure-no-auth] [--log-level LEVEL]

Serves the check and render API (JSON under /v1, /healthz, /readyz, /metrics, /openapi.json, /docs).
  -C, --repo DIR       the infra repo: found upwards from DIR (env COFFRE_REPO; default: the working directory)
  --listen HOST:PORT   address to bind (default 127.0.0.1:8080; env COFFRE_LISTEN)
  --tokens FILE        API tokens file (YAML; env COFFRE_TOKENS_FILE); add entries with \`coffre token new\`
  --tls-cert, --tls-key  serve HTTPS with this PEM certificate and key (env COFFRE_TLS_CERT, COFFRE_TLS_KEY)
  --allowed-host HOST  answer only requests whose Host header names HOST (repeatable, or comma-separated;
                       env COFFRE_ALLOWED_HOSTS); others get 421. Default: any Host
  --trust-proxy ADDRS  believe X-Forwarded-For (client address for the auth-failure limit) only from these
                       proxies: IPs, CIDRs, loopback|linklocal|uniquelocal (env COFFRE_TRUST_PROXY); default none
  --insecure-no-auth   no authentication, read-only (check role; render and secret writes are 403); refused
                       unless the address is loopback; answers only Host localhost, 127.0.0.1 or [::1]
  --log-level LEVEL    pino level (default info; env COFFRE_LOG_LEVEL)
Vault/OpenBao and age identities come from coffre.yaml and the environment, as for \`coffre check\`.
Stops gracefully on SIGTERM/SIGINT: in-flight requests complete first.`;

export const serveCommand: CliCommand = {
  summary: 'serve the check/render HTTP API (bearer tokens, /metrics, /openapi.json)',
  usage: serveUsage,
  options: [
    { name: 'listen', type: 'string' },
    { name: 'tokens', type: 'string' },
    { name: 'tls-cert', type: 'string' },
    { name: 'tls-key', type: 'string' },
    { name: 'insecure-no-auth', type: 'boolean' },
    { name: 'allowed-host', type: 'string', multiple: true, list: true },
    { name: 'trust-proxy', type: 'string' },
    { name: 'log-level', type: 'string' },
  ],
  run: serve,
};

async function serve(invocation: Invocation, io: CliIo): Promise<number> {
  const opt = (name: string) => stringOf(invocation.values, name);
  const values = {
    listen: opt('listen'),
    tokens: opt('tokens'),
    'tls-cert': opt('tls-cert') ?? (io.env.COFFRE_TLS_CERT || undefined),
    'tls-key': opt('tls-key') ?? (io.env.COFFRE_TLS_KEY || undefined),
    'insecure-no-auth': flagOf(invocation.values, 'insecure-no-auth'),
    'allowed-host': listOf(invocation.values, 'allowed-host'),
    'trust-proxy': opt('trust-proxy'),
    'log-level': opt('log-level'),
  };
  const repoGiven = invocation.repo.length > 0 || (io.env.COFFRE_REPO ?? '') !== '';
  if (invocation.positionals.length > 1 || (invocation.positionals.length === 1 && repoGiven)) {
    throw new CoffreError('COFFRE_USAGE', `serve takes no positional argument (name the repo with -C DIR), got ${invocation.positionals.length}`);
  }
  // The old `serve REPO_DIR` still works, with a deprecation note.
  const where = await locateRepo(io, invocation.repo, invocation.positionals, { positionals: 'always' });
  const address = parseListenAddress(values.listen ?? io.env.COFFRE_LISTEN ?? '127.0.0.1:8080');
  const tokensFile = values.tokens ?? (io.env.COFFRE_TOKENS_FILE || undefined);
  const insecure = values['insecure-no-auth'];
  if (tokensFile !== undefined && insecure) throw new CoffreError('COFFRE_USAGE', 'give --tokens FILE or --insecure-no-auth, not both');
  if (tokensFile === undefined && !insecure) {
    throw new CoffreError(
      'COFFRE_USAGE',
      'serve needs an API tokens file: --tokens FILE (or COFFRE_TOKENS_FILE); create entries with `coffre token new --role check|render|admin`. ' +
        'For a local demo only, --insecure-no-auth serves without authentication on a loopback address.',
    );
  }
  if (insecure && !isLoopbackHost(address.host)) {
    throw new CoffreError('COFFRE_USAGE', `--insecure-no-auth is refused on ${address.host}: without a tokens file coffre only listens on a loopback address (127.0.0.1 or ::1)`);
  }
  const allowedHosts = listOption(values['allowed-host'].length > 0 ? values['allowed-host'].join(',') : io.env.COFFRE_ALLOWED_HOSTS).map(parseAllowedHost);
  const trustProxy = listOption(values['trust-proxy'] ?? io.env.COFFRE_TRUST_PROXY).map(parseTrustedProxy);
  if (insecure && allowedHosts.length > 0) throw new CoffreError('COFFRE_USAGE', '--allowed-host needs a tokens file: with --insecure-no-auth only localhost, 127.0.0.1 and [::1] are answered');
  if (insecure && trustProxy.length > 0) throw new CoffreError('COFFRE_USAGE', '--trust-proxy needs a tokens file: --insecure-no-auth is for local use, not behind a proxy');
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw new CoffreError('COFFRE_USAGE', '--tls-cert and --tls-key go together');
  const tls = values['tls-cert'] && values['tls-key'] ? { cert: await readPem(io, values['tls-cert'], 'certificate'), key: await readPem(io, values['tls-key'], 'key') } : undefined;
  const tokens = tokensFile === undefined ? null : await loadTokensFile(path.resolve(io.cwd, tokensFile));

  const logger = createLogger({ level: values['log-level'] ?? io.env.COFFRE_LOG_LEVEL ?? 'info', destination: io.stdout as unknown as DestinationStream });
  const root = where.root;
  // The app's metrics, made here so that the Vault transports (the session's, opened before the app) report into them.
  const build = { version: VERSION, node: process.versions.node };
  const metrics = createServerMetrics({ build });
  const vaultObserver = metrics.vaultObserver;
  // One Vault session for the process: it logs in once and keeps its token renewed, so requests (each with
  // its own workspace, below) never log in themselves. Its state shows in /readyz.
  // Thousands of Vault answers to parse: let V8 optimise undici's HTTP parser (a cold CLI run keeps it on Liftoff).
  optimiseHttpParserForLongRun();
  const vaultSession = await openVaultSession({ root, env: io.env, logger: logger.child({ component: 'vault-session' }), vaultObserver });
  // Opened once up front so that a bad coffre.yaml, Vault setting or age key stops the start, not a request;
  // each request then opens its own (sources memoise reads for one run).
  let summary;
  try {
    const probe = await openWorkspace({ root, env: io.env, vaultSession });
    summary = { repo: probe.root, services: probe.repo.services.length, vault: probe.vault !== null, ageIdentities: probe.identityCount };
    probe.close();
  } catch (error) {
    vaultSession?.close();
    throw error;
  }
  // The start-up work is done: from here this process answers requests for a long time.
  tellExecutable('longRun');
  // Logging in is not a start condition (Vault may be down or sealed for a while): failures are logged by the
  // session and shown by /readyz, and the next request tries again.
  vaultSession?.start().catch(() => undefined);

  const discoveryCache = createDiscoveryCache();
  const gitVerdicts = createGitVerdictCache();
  const exampleCache = createExampleCache();
  const app = buildApp({
    openWorkspace: (scope) => openWorkspace({ root, env: io.env, vaultSession, discoveryCache, gitVerdicts, exampleCache, vaultObserver, ...(scope?.services ? { services: scope.services } : {}), ...(scope?.asOf !== undefined ? { asOf: scope.asOf } : {}) }),
    logger,
    tokens,
    ...(allowedHosts.length > 0 ? { allowedHosts } : {}),
    trustProxy,
    // No answer names a path of this host: the root as given and resolved is replaced in every body.
    repoRoots: [root, await realpath(root).catch(() => root)],
    ...(tls ? { tls } : {}),
    metrics,
    build,
  });
  app.addHook('onClose', async () => vaultSession?.close());
  let url: string;
  try {
    url = await listen(app, address, tls !== undefined);
  } catch (error) {
    await app.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') throw new CoffreError('COFFRE_USAGE', `cannot listen on ${address.host}:${address.port}: ${code}`);
    throw error;
  }
  const closed = closeOnSignals(app, process);
  logger.info({ url, ...summary, tokens: tokens?.size ?? 0 }, `coffre serving ${root} on ${url}`);
  if (tokens === null) logger.warn('authentication is OFF (--insecure-no-auth): read-only, but anyone on this machine can read check reports');
  await closed;
  logger.info('closed');
  return 0;
}

/** A comma-separated option value as trimmed, non-empty entries. */
function listOption(text: string | undefined): string[] {
  return (text ?? '').split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
}

async function readPem(io: CliIo, file: string, what: string): Promise<string> {
  try {
    return await readFile(path.resolve(io.cwd, file), 'utf8');
  } catch (error) {
    throw new CoffreError('COFFRE_USAGE', `cannot read the TLS ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}
