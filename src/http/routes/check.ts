// GET /v1/check and GET /v1/services/:service/check: the completeness report, the same JSON as
// `coffre check --format json`, restricted to the services the token is scoped to.
import type { FastifyInstance } from 'fastify';
import type { CheckReport } from '../../core/report.js';
import type { RouteContext } from '../app.js';
import { requireService, servicesInScope } from '../authentication.js';
import { HttpRefusal } from '../error-handler.js';
import { checkQuery, checkReport, errorBody, requestSchema, responseSchema, serviceParams, type CheckQuery, type ServiceParams } from '../schemas.js';

const responses = { 200: responseSchema(checkReport), '4xx': responseSchema(errorBody), '5xx': responseSchema(errorBody) };

export async function checkRoutes(app: FastifyInstance, { context }: { context: RouteContext }): Promise<void> {
  app.get<{ Querystring: CheckQuery }>(
    '/check',
    {
      config: { permission: 'check' },
      schema: {
        operationId: 'checkAll',
        summary: 'Check every service the token may see',
        description: 'keysOnly=true reads key names only (Vault subkeys, sops clear-text names): no value leaves the store.',
        tags: ['check'],
        querystring: requestSchema(checkQuery),
        response: responses,
      },
    },
    async (request): Promise<CheckReport> =>
      context.withWorkspace(async (workspace) => {
        const all = workspace.repo.services.map((s) => s.name);
        const services = servicesInScope(request, all);
        if (services.length === 0 && all.length > 0) {
          throw new HttpRefusal('COFFRE_FORBIDDEN', `token "${request.principal?.id}" is scoped to none of the repo's services`);
        }
        return context.useCases.runCheck(workspace, { services, keysOnly: request.query.keysOnly });
      }),
  );

  app.get<{ Params: ServiceParams; Querystring: CheckQuery }>(
    '/services/:service/check',
    {
      config: { permission: 'check' },
      schema: {
        operationId: 'checkService',
        summary: 'Check one service',
        description: 'A service in a sub-folder is named with its path, URL-encoded: /v1/services/apps%2Fwiki/check.',
        tags: ['check'],
        params: requestSchema(serviceParams),
        querystring: requestSchema(checkQuery),
        response: responses,
      },
    },
    async (request): Promise<CheckReport> => {
      const { service } = request.params;
      requireService(request, service);
      return context.withWorkspace((workspace) => context.useCases.runCheck(workspace, { services: [service], keysOnly: request.query.keysOnly }), { services: [service] });
    },
  );
}
