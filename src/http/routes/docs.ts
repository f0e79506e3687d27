// GET /openapi.json: the document @fastify/swagger generates from the route schemas (src/http/openapi.ts).
// The docs page (/docs) is @fastify/swagger-ui, registered by app.ts.
import type { FastifyInstance } from 'fastify';

export async function docsRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    '/openapi.json',
    {
      schema: {
        operationId: 'getOpenApiDocument',
        summary: 'This API as OpenAPI 3.1 (the docs page, /docs, shows it)',
        tags: ['docs'],
        response: { 200: { type: 'object', additionalProperties: true } },
      },
    },
    async () => app.swagger(),
  );
}
