// buildApp(deps): the fastify instance of `coffre serve`, built only from what it is given (workspace,
// use-cases, logger, token registry, clock). It never listens, reads process.env or touches signals
// (server.ts does); route groups live in routes/, the contract in schemas.ts.
import { randomUUID } from 'node:crypto';
import fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { runCheck as defaultRunCheck } from '../use-cases/check.js';
import { runRender as defaultRunRender } from '../use-cases/render.js';
import type { Workspace } from '../use-cases/workspace.js';
import { installAuthentication, registerAuthFailureLimiters, type AuthFailureLimits } from './authentication.js';
import { answerFrameworkError, HttpRefusal, installErrorHandling } from './error-handler.js';
import { createServerMetrics, statusClass, type ServerMetrics } from './metrics.js';
import { collectRoutes, registerDocsPage, registerOpenApi } from './openapi.js';
import { hostAllowed, type AllowedHosts } from './request-origin.js';
import { checkRoutes } from './routes/check.js';
import { docsRoutes } from './routes/docs.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { renderRoutes } from './routes/render.js';
import { secretRoutes } from './routes/secrets.js';
import { serviceRoutes } from './routes/services.js';
import { MAX_PARAM_CHARS } from './schemas.js';
import { createServiceQueue } from './service-queue.js';
import type { TokenRegistry } from './token-registry.js';
import { createAuditTrail } from './audit-trail.js';
import { uiApiRoutes, uiPageRoutes } from './ui.js';

/** The use-cases the HTTP API calls (the real ones by default; tests may wrap them to observe timing). */
export interface UseCases {
  runCheck: typeof defaultRunCheck;
  runRender: typeof defaultRunRender;
}

/** Everything buildApp needs; nothing else is read from the outside world. */
export interface AppDeps {
  /**
   * Opens the infra repo with its sources. Called once per request and closed after it: sources memoise
   * reads (and failures) for a run, so a long-lived workspace would serve stale values and stale outages,
   * and re-discovery picks up a `git pull` of the repo without a restart.
   */
  /** Opens a workspace; `scope.services` limits discovery to the services a request is about. */
  openWorkspace: (scope?: WorkspaceScope) => Promise<Workspace>;
  /** The one logger of the process; the app makes child loggers from it. */
  logger: Logger;
  /**
   * Known API tokens. `null` turns authentication off: every request acts as an anonymous principal with the
   * check role (read-only), and only loopback Host headers are answered. Only `coffre serve
   * --insecure-no-auth` on a loopback address passes null.
   */
  tokens: TokenRegistry | null;
  /**
   * Host header names answered when authentication is on (421 COFFRE_HOST_REFUSED otherwise); default: any.
   * Without authentication this is always `loopback`.
   */
  allowedHosts?: AllowedHosts;
  /** Proxies (IPs, CIDRs, loopback|linklocal|uniquelocal) whose X-Forwarded-For is believed; default none. */
  trustProxy?: readonly string[];
  /**
   * Absolute paths no answer may show (the repo root, as given and resolved): replaced by repo-relative
   * paths or "the repo". Roots of the workspaces opened are added as they are seen.
   */
  repoRoots?: readonly string[];
  useCases?: Partial<UseCases>;
  /** Failed authentications allowed per client address, and per presented credential, and window (default 10 per 60 s). */
  authFailures?: AuthFailureLimits;
  /** TLS material; plain HTTP without it. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /**
   * The app's metrics (a registry of its own). The shell creates them when its Vault transports must report
   * into them (`metrics.vaultObserver`); otherwise the app creates its own.
   */
  metrics?: ServerMetrics;
  /** coffre's version and the Node.js version (OpenAPI info, coffre_build_info); the shell passes the real ones. */
  build?: { version: string; node: string };
}

/** When the shell gives no build information (tests). */
const UNKNOWN_BUILD = { version: '0.0.0-unknown', node: 'unknown' };

/** What route plugins receive. */
export interface RouteContext {
  /** Runs `task` with a freshly opened workspace (scoped to `scope.services` when given), closed afterwards. */
  withWorkspace<T>(task: (workspace: Workspace) => Promise<T>, scope?: WorkspaceScope): Promise<T>;
  useCases: UseCases;
  metrics: ServerMetrics;
  audit: Logger;
  queue: ReturnType<typeof createServiceQueue>;
}

/** Which part of the repo a request needs discovered. */
export interface WorkspaceScope {
  services?: string[];
  /** A commit id whose configuration the workspace is discovered from (render `asOf`). */
  asOf?: string;
}

/** Builds (does not start) the HTTP API. Call `ready()`/`inject()`/`listen()` on the result. */
export function buildApp(deps: AppDeps): FastifyInstance {
  const trustProxy = deps.trustProxy && deps.trustProxy.length > 0 ? [...deps.trustProxy] : false;
  const options = {
    loggerInstance: deps.logger.child({ component: 'http' }),
    genReqId: () => randomUUID(),
    bodyLimit: 16 * 1024,
    trustProxy,
    return503OnClosing: true,
    forceCloseConnections: 'idle' as const,
    // The router measures a decoded parameter in UTF-16 units; a schema's maxLength counts code points, so a
    // schema-valid parameter may be twice as long. Longer ones reach answerFrameworkError (414, no URL echo).
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 2 * MAX_PARAM_CHARS },
    frameworkErrors: answerFrameworkError,
    // Bodies are validated as their schemas say: no "true" -> true coercion, unknown fields refused rather
    // than silently dropped. (Boolean query parameters are converted by the preValidation hook below.)
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  };
  const app = (deps.tls ? fastify({ ...options, https: { cert: deps.tls.cert, key: deps.tls.key } }) : fastify(options)) as unknown as FastifyInstance;
  const build = deps.build ?? UNKNOWN_BUILD;
  const metrics = deps.metrics ?? createServerMetrics({ build });
  const routes = collectRoutes(app);
  registerOpenApi(app, { title: 'coffre', version: build.version });
  // Absolute paths no answer may show; each opened workspace's root joins them.
  const roots = new Set<string>(deps.repoRoots ?? []);
  // The admin page's history: the audit lines of this process, also kept in memory (audit-trail.ts).
  const auditTrail = createAuditTrail();
  const context: RouteContext = {
    async withWorkspace(task, scope) {
      const workspace = await deps.openWorkspace(scope);
      roots.add(workspace.root);
      try {
        return await task(workspace);
      } finally {
        workspace.close();
      }
    },
    useCases: { runCheck: deps.useCases?.runCheck ?? defaultRunCheck, runRender: deps.useCases?.runRender ?? defaultRunRender },
    metrics,
    audit: auditTrail.wrap(deps.logger.child({ component: 'audit' })),
    queue: createServiceQueue(),
  };

  installErrorHandling(app, routes);
  const allowedHosts: AllowedHosts | null = deps.tokens === null ? 'loopback' : (deps.allowedHosts ?? null);
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
    void reply.header('cache-control', 'no-store');
    void reply.header('x-content-type-options', 'nosniff');
    // Before authentication, on every route: a page on another origin whose DNS name was rebound to this
    // address sends its own name as Host.
    if (allowedHosts !== null && !hostAllowed(request.host, allowedHosts)) {
      throw new HttpRefusal(
        'COFFRE_HOST_REFUSED',
        allowedHosts === 'loopback'
          ? 'without authentication this server answers only Host localhost, 127.0.0.1 or [::1] (DNS-rebinding protection)'
          : 'the Host header names a host this server does not answer for (--allowed-host)',
      );
    }
  });
  // Query strings are text: a boolean query parameter accepts exactly "true" or "false" (ajv coercion is off).
  app.addHook('preValidation', async (request) => {
    const properties = (request.routeOptions.schema?.querystring as { properties?: Record<string, { type?: unknown }> } | undefined)?.properties;
    const query = request.query as Record<string, unknown> | null;
    if (!properties || !query) return;
    for (const [name, property] of Object.entries(properties)) {
      if (property.type === 'boolean' && (query[name] === 'true' || query[name] === 'false')) query[name] = query[name] === 'true';
    }
  });
  app.addHook('onSend', async (_request, _reply, payload) => (typeof payload === 'string' ? withoutRoots(payload, roots) : payload));
  installRequestMetrics(app, metrics);

  void app.register(healthRoutes, { context });
  void app.register(metricsRoutes, { context });
  void app.register(docsRoutes);
  registerDocsPage(app);
  void app.register(uiPageRoutes, { authentication: deps.tokens !== null });
  void app.register(
    async (v1) => {
      const limiters = await registerAuthFailureLimiters(v1, deps.authFailures);
      installAuthentication(v1, { tokens: deps.tokens, limiters, metrics });
      await v1.register(serviceRoutes, { context });
      await v1.register(checkRoutes, { context });
      await v1.register(renderRoutes, { context });
      await v1.register(secretRoutes, { context });
      await v1.register(uiApiRoutes, { context, auditTrail });
    },
    { prefix: '/v1' },
  );
  return app;
}

/** Counts and times every answer by method, route pattern and status (class). */
function installRequestMetrics(app: FastifyInstance, metrics: ServerMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, never the raw URL: bounded label values, no path a client made up.
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.requestSeconds.observe({ method: request.method, route, status_class: statusClass(reply.statusCode) }, reply.elapsedTime / 1000);
  });
}

/**
 * `payload` with every absolute repo root removed: `<root>/x` becomes `x`, a bare `<root>` "the repo". Roots are
 * matched as they appear inside a JSON string (JSON escaping applied), longest first.
 */
export function withoutRoots(payload: string, roots: Iterable<string>): string {
  let text = payload;
  for (const root of [...roots].filter((r) => r.length > 1).sort((a, b) => b.length - a.length)) {
    const escaped = JSON.stringify(root.replace(/[\\/]+$/, '')).slice(1, -1);
    if (!text.includes(escaped)) continue;
    text = text.split(`${escaped}/`).join('').split(escaped).join('the repo');
  }
  return text;
}
