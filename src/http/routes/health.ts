// GET /healthz (the process answers) and GET /readyz (the sources can serve: Vault initialised, unsealed and
// the token valid, with its TTL and the Vault session's state; age identities loaded when the repo has sops
// files). Counts and states only: never a token, accessor or secret_id.
import type { FastifyInstance } from 'fastify';
import * as z from 'zod';
import { formatErrorMessage, isCoffreError } from '../../errors.js';
import type { Workspace } from '../../use-cases/workspace.js';
import type { RouteContext } from '../app.js';
import { liveness, readiness as baseReadiness, responseSchema } from '../schemas.js';

/** The shared Vault session (coffre serve): auth method, token TTL, renewals, last failure. */
const vaultSessionState = z.object({
  method: z.enum(['token', 'approle']),
  authenticated: z.boolean(),
  tokenTtlSeconds: z.number().int().optional(),
  renewable: z.boolean().optional(),
  lastLogin: z.string().optional(),
  lastRenewal: z.string().optional(),
  logins: z.number().int(),
  renewals: z.number().int(),
  lastError: z.object({ code: z.string(), message: z.string(), at: z.string() }).optional(),
});

const readiness = baseReadiness.extend({ vault: baseReadiness.shape.vault.extend({ session: vaultSessionState.optional() }) });
type Readiness = z.output<typeof readiness>;

export async function healthRoutes(app: FastifyInstance, { context }: { context: RouteContext }): Promise<void> {
  app.get(
    '/healthz',
    { schema: { operationId: 'getLiveness', summary: 'Liveness: the process answers', tags: ['health'], response: { 200: responseSchema(liveness) } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        operationId: 'getReadiness',
        summary: 'Readiness: Vault reachable, unsealed, token valid (TTL); age identities loaded',
        tags: ['health'],
        response: { 200: responseSchema(readiness), 503: responseSchema(readiness) },
      },
    },
    async (_request, reply) => {
      const answer = await context.withWorkspace(readinessOf);
      return reply.code(answer.ready ? 200 : 503).send(answer);
    },
  );
}

async function readinessOf(workspace: Workspace): Promise<Readiness> {
  const sopsFiles = workspace.repo.services.flatMap((s) => s.secretFiles).filter((f) => f.source?.kind === 'sops').length;
  const sops = { ageIdentities: workspace.identityCount, sopsFiles, ok: sopsFiles === 0 || workspace.identityCount > 0 };
  let vault: Readiness['vault'];
  if (workspace.vault === null) {
    vault = { configured: false, ok: true };
  } else {
    try {
      const health = await workspace.vault.health();
      vault = {
        configured: true,
        ok: health.initialized && !health.sealed,
        initialized: health.initialized,
        sealed: health.sealed,
        version: health.version,
        ...(health.tokenTtlSeconds !== undefined ? { tokenTtlSeconds: health.tokenTtlSeconds } : {}),
      };
    } catch (error) {
      vault = {
        configured: true,
        ok: false,
        error: isCoffreError(error) ? { code: error.code, message: formatErrorMessage(error) } : { code: 'COFFRE_INTERNAL', message: 'health check failed (details in the server log)' },
      };
    }
    // Read after health(), which may just have logged in again.
    if (workspace.vaultSession) vault.session = workspace.vaultSession.state();
  }
  return { ready: vault.ok && sops.ok, vault, sops };
}
