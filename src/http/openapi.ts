// The OpenAPI 3.1 document of the API, generated from the JSON Schemas the routes are registered with
// (so the document cannot drift from what fastify validates and serialises). No route is described by hand.
import type { FastifyInstance, RouteOptions } from 'fastify';

/** What the document needs of one registered route. */
export interface CollectedRoute {
  method: string;
  url: string;
  schema: Record<string, unknown>;
  /** Needs a bearer token (the /v1 routes). */
  authenticated: boolean;
  contentType: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The response media type when it is not JSON (documentation only). */
    contentType?: string;
  }
  interface FastifySchema {
    summary?: string;
    description?: string;
    tags?: string[];
  }
}

/** Records every route registered on `app` from now on (call before registering routes). */
export function collectRoutes(app: FastifyInstance): CollectedRoute[] {
  const routes: CollectedRoute[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === 'HEAD') continue;
      const config = (route.config ?? {}) as { permission?: string; contentType?: string };
      routes.push({
        method: method.toLowerCase(),
        url: route.url,
        schema: (route.schema ?? {}) as Record<string, unknown>,
        authenticated: config.permission !== undefined,
        contentType: config.contentType ?? 'application/json',
      });
    }
  });
  return routes;
}

const STATUS_TEXT: Record<string, string> = {
  '200': 'OK',
  '400': 'bad request',
  '401': 'missing or unknown token',
  '403': 'the token\'s role or service scope does not allow this',
  '404': 'no such service',
  '405': 'the path exists, not with this method (see Allow)',
  '421': 'the Host header names a host this server does not answer for',
  '409': 'refused: incomplete, or another render holds the lock',
  '429': 'too many failed authentications from this client or with this credential',
  '4XX': 'client error',
  '5XX': 'server or source error',
  '503': 'not ready',
};

/** Builds the OpenAPI 3.1 document from collected routes. */
export function buildOpenApiDocument(routes: readonly CollectedRoute[], info: { title: string; version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const openapiPath = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const schema = route.schema;
    const parameters = [...parametersOf(schema.params, 'path'), ...parametersOf(schema.querystring, 'query')];
    const responses: Record<string, unknown> = {};
    for (const [status, body] of Object.entries((schema.response ?? {}) as Record<string, Record<string, unknown>>)) {
      const media = status === '200' ? route.contentType : 'application/json';
      // Fastify spells ranges `4xx`; OpenAPI wants `4XX`.
      const key = status.toUpperCase();
      responses[key] = { description: STATUS_TEXT[key] ?? 'answer', content: { [media]: { schema: body } } };
    }
    const operation: Record<string, unknown> = {
      ...(typeof schema.summary === 'string' ? { summary: schema.summary } : {}),
      ...(typeof schema.description === 'string' ? { description: schema.description } : {}),
      ...(Array.isArray(schema.tags) ? { tags: schema.tags } : {}),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(schema.body ? { requestBody: { required: !acceptsNull(schema.body), content: { 'application/json': { schema: schema.body } } } } : {}),
      responses,
      ...(route.authenticated ? { security: [{ bearer: [] }] } : { security: [] }),
    };
    paths[openapiPath] = { ...(paths[openapiPath] ?? {}), [route.method]: operation };
  }
  return {
    openapi: '3.1.0',
    info: { ...info, description: 'coffre: check and render docker compose env_file secrets. Answers carry key names, never values.' },
    paths,
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a token from the tokens file (coffre token new)' } } },
  };
}

/** Whether a body schema admits `null` (the route then also takes no body at all: the body is optional). */
function acceptsNull(schema: unknown): boolean {
  const s = schema as { type?: unknown; anyOf?: unknown[]; oneOf?: unknown[] } | undefined;
  if (!s) return true;
  if (s.type === 'null' || (Array.isArray(s.type) && s.type.includes('null'))) return true;
  return [...(s.anyOf ?? []), ...(s.oneOf ?? [])].some(acceptsNull);
}

function parametersOf(schema: unknown, where: 'path' | 'query'): Array<Record<string, unknown>> {
  const object = schema as { properties?: Record<string, unknown>; required?: string[] } | undefined;
  if (!object?.properties) return [];
  return Object.entries(object.properties).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (object.required ?? []).includes(name),
    schema: property,
  }));
}
