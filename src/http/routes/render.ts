// POST /v1/services/:service/render: renders one service (or plans it with dryRun), serialised per service
// in this process (a dry run, which writes nothing, is not), and writes one audit line per attempt. Answers
// carry actions, sha256 and key NAMES.
import type { FastifyInstance } from 'fastify';
import { CoffreError, ERROR_CODES, isCoffreError } from '../../errors.js';
import { prepareAsOf } from '../../use-cases/as-of.js';
import type { RenderReport, ServiceRenderResult } from '../../use-cases/render.js';
import type { RouteContext } from '../app.js';
import { requireService } from '../authentication.js';
import { renderAnswer, renderBody, renderErrorAnswer, requestSchema, responseSchema, serviceParams, type ServiceParams } from '../schemas.js';

type RenderRequestBody = { dryRun?: boolean; asOf?: string; valuesAsOf?: boolean } | null | undefined;

export async function renderRoutes(app: FastifyInstance, { context }: { context: RouteContext }): Promise<void> {
  app.post<{ Params: ServiceParams; Body: RenderRequestBody }>(
    '/services/:service/render',
    {
      config: { permission: 'render' },
      schema: {
        operationId: 'renderService',
        summary: 'Render one service (dryRun: plan only)',
        description:
          'Writes every env_file target of the service atomically, only when complete. 409 when the source is incomplete ' +
          '(the problems are listed by key name) or another render holds the lock.',
        tags: ['render'],
        params: requestSchema(serviceParams),
        body: requestSchema(renderBody),
        response: { 200: responseSchema(renderAnswer), '4xx': responseSchema(renderErrorAnswer), '5xx': responseSchema(renderErrorAnswer) },
      },
    },
    async (request, reply) => {
      const { service } = request.params;
      const principal = requireService(request, service);
      const dryRun = request.body?.dryRun ?? false;
      const asOfCommit = request.body?.asOf;
      const valuesAsOf = request.body?.valuesAsOf ?? false;
      if (valuesAsOf && asOfCommit === undefined) throw new CoffreError('COFFRE_USAGE', 'valuesAsOf needs asOf (a commit id)');
      const audit = (fields: Record<string, unknown>) =>
        context.audit.info({ audit: 'render', reqId: request.id, tokenId: principal.id, service, dryRun, ...(asOfCommit !== undefined ? { asOf: asOfCommit, valuesAsOf } : {}), ...fields }, 'render');
      let report: RenderReport;
      // A dry run writes nothing and takes no render lock (runRender): it need not wait its turn behind the
      // renders of the service (50 clients planning one service were answered one after the other).
      const serialised = <T>(task: () => Promise<T>): Promise<T> => (dryRun ? task() : context.queue.run(service, task));
      try {
        report = await serialised(() =>
          context.withWorkspace(
            (workspace) =>
              context.useCases.runRender(workspace, {
                services: [service],
                dryRun,
                ...(workspace.commitView ? { asOf: prepareAsOf(workspace, workspace.commitView, { valuesAsOf }) } : {}),
              }),
            { services: [service], ...(asOfCommit !== undefined ? { asOf: asOfCommit } : {}) },
          ),
        );
      } catch (error) {
        context.metrics.renders.inc({ outcome: 'error' });
        audit({ files: [], keys: [], outcome: 'error', errorCode: isCoffreError(error) ? error.code : 'COFFRE_INTERNAL' });
        throw error;
      }
      const result = report.services[0];
      if (!result) throw new Error('render returned no result for the service');
      context.metrics.renders.inc({ outcome: result.status });
      audit({ files: result.files.map((f) => f.target), keys: changedKeyNames(result), outcome: result.status, ...(result.error ? { errorCode: result.error.code } : {}) });
      if (result.error) {
        return reply.code(ERROR_CODES[result.error.code].http).send({ ...report, error: result.error });
      }
      return report;
    },
  );
}

/** Key names added, changed or removed across the service's files, deduplicated. Names only. */
function changedKeyNames(result: ServiceRenderResult): string[] {
  const names = new Set<string>();
  for (const file of result.files) for (const name of [...file.keys.added, ...file.keys.changed, ...file.keys.removed]) names.add(name);
  for (const problem of result.problems) names.add(problem.key.name);
  return [...names];
}
