// GET /metrics: the Prometheus text exposition of the app's registry (src/http/metrics.ts).
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../app.js';

export async function metricsRoutes(app: FastifyInstance, { context }: { context: RouteContext }): Promise<void> {
  app.get(
    '/metrics',
    {
      config: { contentType: 'text/plain; version=0.0.4' },
      schema: { operationId: 'getMetrics', summary: 'Prometheus metrics', tags: ['health'], response: { 200: { type: 'string' } } },
    },
    async (_request, reply) => {
      const { contentType, text } = await context.metrics.expose();
      return reply.header('content-type', contentType).send(text);
    },
  );
}
