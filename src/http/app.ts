// buildApp(deps): the fastify instance of `coffre serve`, built only from what it is given (workspace,
// use-cases, logger, token registry, clock). It never listens, reads process.env or touches signals
// (server.ts does); route groups live in routes/, the contract in schemas.ts.
import { randomUUID } from 'node:crypto';
import fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { runCheck as defaultRunCheck } from '../use-cases/check.js';
import { runRender as defaultRunRender } from '../use-cases/render.js';
import type { Workspace } from '../use-cases/workspace.js';
import { createAuthFailureLimiter } from './auth-failure-limiter.js';
import { installAuthentication } from './authentication.js';
import { installErrorHandling } from './error-handler.js';
import { createServerMetrics, type ServerMetrics } from './metrics.js';
import { collectRoutes } from './openapi.js';
import { checkRoutes } from './routes/check.js';
import { docsRoutes } from './routes/docs.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { renderRoutes } from './routes/render.js';
import { secretRoutes } from './routes/secrets.js';
import { serviceRoutes } from './routes/services.js';
import { createServiceQueue } from './service-queue.js';
import type { TokenRegistry } from './token-registry.js';

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
   * Known API tokens. `null` turns authentication off (every request acts as an anonymous admin): only
   * `coffre serve --insecure-no-auth` on a loopback address passes null.
   */
  tokens: TokenRegistry | null;
  useCases?: Partial<UseCases>;
  /** Milliseconds clock for the auth-failure window (default Date.now). */
  now?: () => number;
  /** Failed authentications allowed per client address and window (default 10 per 60 s). */
  authFailures?: { maxFailures?: number; windowMs?: number };
  /** TLS material; plain HTTP without it. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  metrics?: ServerMetrics;
}

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
}

/** Builds (does not start) the HTTP API. Call `ready()`/`inject()`/`listen()` on the result. */
export function buildApp(deps: AppDeps): FastifyInstance {
  const options = {
    loggerInstance: deps.logger.child({ component: 'http' }),
    genReqId: () => randomUUID(),
    bodyLimit: 16 * 1024,
    trustProxy: false,
    return503OnClosing: true,
    forceCloseConnections: 'idle' as const,
    routerOptions: { ignoreTrailingSlash: true },
  };
  const app = (deps.tls ? fastify({ ...options, https: { cert: deps.tls.cert, key: deps.tls.key } }) : fastify(options)) as unknown as FastifyInstance;
  const metrics = deps.metrics ?? createServerMetrics();
  const routes = collectRoutes(app);
  const context: RouteContext = {
    async withWorkspace(task, scope) {
      const workspace = await deps.openWorkspace(scope);
      try {
        return await task(workspace);
      } finally {
        workspace.close();
      }
    },
    useCases: { runCheck: deps.useCases?.runCheck ?? defaultRunCheck, runRender: deps.useCases?.runRender ?? defaultRunRender },
    metrics,
    audit: deps.logger.child({ component: 'audit' }),
    queue: createServiceQueue(),
  };

  installErrorHandling(app);
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
    void reply.header('cache-control', 'no-store');
    void reply.header('x-content-type-options', 'nosniff');
  });
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, never the raw URL: bounded label values, no path a client made up.
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.requestSeconds.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  const limiter = createAuthFailureLimiter({ now: deps.now ?? Date.now, ...deps.authFailures });
  void app.register(healthRoutes, { context });
  void app.register(metricsRoutes, { context });
  void app.register(docsRoutes, { routes });
  void app.register(
    async (v1) => {
      installAuthentication(v1, { tokens: deps.tokens, limiter, metrics });
      await v1.register(serviceRoutes, { context });
      await v1.register(checkRoutes, { context });
      await v1.register(renderRoutes, { context });
      await v1.register(secretRoutes, { context });
    },
    { prefix: '/v1' },
  );
  return app;
}
