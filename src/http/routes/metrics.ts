// GET /metrics: the Prometheus text exposition of the server's counters and histograms.
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../app.js';

export async function metricsRoutes(app: FastifyInstance, { context }: { context: RouteContext }): Promise<void> {
  app.get(
    '/metrics',
    {
      config: { contentType: 'text/plain; version=0.0.4' },
      schema: { summary: 'Prometheus metrics', tags: ['health'], response: { 200: { type: 'string' } } },
    },
    async (_request, reply) => reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8').send(context.metrics.registry.expose()),
  );
}
