// The admin page (`GET /ui/`: one HTML page, one vanilla JS module, one stylesheet, all embedded in the
// build: no CDN, no bundler) with its security headers (@fastify/helmet, strict CSP, scoped to /ui), and the
// read-only /v1 routes only the page needs: who the token is, an example's key annotations, recent audit lines.
// The page calls the same /v1 API as every client; nothing here returns a value.
import helmet from '@fastify/helmet';
// Types only: the route schema fields (operationId, tags, summary) @fastify/swagger reads.
import type {} from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import * as z from 'zod';
import { listExampleKeys, type ExampleKeysReport } from '../use-cases/example-keys.js';
import type { RouteContext } from './app.js';
import type { AuditTrail } from './audit-trail.js';
import { requireService, servicesInScope } from './authentication.js';
import { HttpRefusal } from './error-handler.js';
import { errorBody, MAX_PARAM_CHARS, requestSchema, responseSchema, serviceParams } from './schemas.js';
import { roleAllows } from './token-registry.js';
import { UI_FAVICON, UI_HTML } from './ui/page.js';
import { UI_SCRIPT } from './ui/script.js';
import { UI_STYLE } from './ui/style.js';

/** The page's Content-Security-Policy directives: only this origin, no inline code, no framing, Trusted Types. */
export const UI_CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
  requireTrustedTypesFor: ["'script'"],
  trustedTypes: ["'none'"],
};

const ASSETS: Array<{ url: string; type: string; body: string; summary: string; operationId: string }> = [
  { url: '/ui/', type: 'text/html; charset=utf-8', body: '', operationId: 'getUiPage', summary: 'The admin page (matrix, key lists, versions, actions)' },
  { url: '/ui/app.js', type: 'text/javascript; charset=utf-8', body: UI_SCRIPT, operationId: 'getUiScript', summary: 'The admin page script' },
  { url: '/ui/app.css', type: 'text/css; charset=utf-8', body: UI_STYLE, operationId: 'getUiStyle', summary: 'The admin page stylesheet' },
  { url: '/ui/icon.svg', type: 'image/svg+xml', body: UI_FAVICON, operationId: 'getUiIcon', summary: 'The admin page icon' },
];

/** GET /ui/ and its assets, with helmet's headers on exactly these routes. */
export async function uiPageRoutes(app: FastifyInstance, options: { authentication: boolean }): Promise<void> {
  // Told up front, so the page asks for a token without first probing the API (a 401 would count as a
  // failed authentication of this client).
  const html = UI_HTML.replace('{{AUTH}}', options.authentication ? 'token' : 'none');
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: UI_CSP_DIRECTIVES },
    // Served over plain HTTP on loopback too: an upgrade would break the page there.
    strictTransportSecurity: false,
    referrerPolicy: { policy: 'no-referrer' },
    frameguard: { action: 'deny' },
    crossOriginEmbedderPolicy: { policy: 'require-corp' },
  });
  for (const asset of ASSETS) {
    app.get(
      asset.url,
      { config: { contentType: asset.type.split(';')[0] }, schema: { operationId: asset.operationId, summary: asset.summary, tags: ['ui'], response: { 200: { type: 'string' } } } },
      async (_request, reply) => reply.header('content-type', asset.type).send(asset.url === '/ui/' ? html : asset.body),
    );
  }
}

const fileParams = serviceParams.extend({ file: z.string().min(1).max(MAX_PARAM_CHARS) });
type FileParams = z.output<typeof fileParams>;

/** GET /v1/whoami */
export const whoamiAnswer = z.object({
  id: z.string(),
  role: z.enum(['check', 'render', 'admin']),
  /** Service globs the token is scoped to. */
  services: z.array(z.string()),
  anonymous: z.boolean(),
  /** What the role allows, so a client shows only the actions it may take. */
  may: z.object({ check: z.boolean(), render: z.boolean(), admin: z.boolean() }),
});

/** GET /v1/services/:service/secrets/:file/keys */
export const exampleKeysAnswer = z.object({
  service: z.string(),
  file: z.string(),
  target: z.string(),
  example: z.string(),
  keys: z.array(
    z.object({
      name: z.string(),
      line: z.number().int(),
      optional: z.boolean(),
      allowEmpty: z.boolean(),
      commentedOut: z.boolean(),
      generate: z.object({ charset: z.string(), length: z.number().int() }).nullable(),
      interpolated: z.boolean(),
    }),
  ),
});

const historyEntries = z.array(
  z.object({
    time: z.string(),
    action: z.enum(['render', 'rotate', 'set', 'rollback', 'import']),
    service: z.string(),
    file: z.string().nullable(),
    key: z.string().nullable(),
    files: z.array(z.string()),
    keys: z.array(z.string()),
    outcome: z.string(),
    dryRun: z.boolean(),
    tokenId: z.string().nullable(),
    oldVersion: z.union([z.number(), z.string()]).nullable(),
    newVersion: z.union([z.number(), z.string()]).nullable(),
    errorCode: z.string().nullable(),
  }),
);

/** Where the history comes from: serve's in-memory audit trail (lost on restart). */
const historyKept = z.object({ where: z.literal('memory'), capacity: z.number().int() });

/** GET /v1/history: every service the token may see. */
export const allHistoryAnswer = z.object({ kept: historyKept, entries: historyEntries });

/** GET /v1/services/:service/history */
export const historyAnswer = z.object({
  service: z.string(),
  kept: historyKept,
  entries: historyEntries,
});

const errors = { '4xx': responseSchema(errorBody), '5xx': responseSchema(errorBody) };

/** The read-only /v1 routes of the page (registered inside the authenticated /v1 scope). */
export async function uiApiRoutes(app: FastifyInstance, { context, auditTrail }: { context: RouteContext; auditTrail: AuditTrail }): Promise<void> {
  app.get(
    '/whoami',
    {
      config: { permission: 'check' },
      schema: { operationId: 'getWhoami', summary: 'The token\'s id, role and service scope, and what it may do', tags: ['ui'], response: { 200: responseSchema(whoamiAnswer), ...errors } },
    },
    async (request): Promise<z.output<typeof whoamiAnswer>> => {
      const principal = request.principal;
      if (principal === null) throw new HttpRefusal('COFFRE_UNAUTHENTICATED', 'not authenticated');
      return {
        id: principal.id,
        role: principal.role,
        services: [...principal.services],
        anonymous: principal.anonymous,
        may: { check: roleAllows(principal.role, 'check'), render: roleAllows(principal.role, 'render'), admin: roleAllows(principal.role, 'admin') },
      };
    },
  );

  app.get<{ Params: FileParams }>(
    '/services/:service/secrets/:file/keys',
    {
      config: { permission: 'check' },
      schema: {
        operationId: 'listExampleKeys',
        summary: 'The keys a secrets file\'s example declares, with their annotations (no value)',
        description: 'name, example line, @optional, @allow-empty, @generate charset and length. Reads the example only.',
        tags: ['ui'],
        params: requestSchema(fileParams),
        response: { 200: responseSchema(exampleKeysAnswer), ...errors },
      },
    },
    async (request): Promise<ExampleKeysReport> => {
      const { service, file } = request.params;
      requireService(request, service);
      return context.withWorkspace((workspace) => listExampleKeys(workspace, { service, file }), { services: [service] });
    },
  );

  app.get(
    '/history',
    {
      config: { permission: 'check' },
      schema: {
        operationId: 'getHistory',
        summary: 'The last renders and writes of every service the token may see, from serve\'s audit trail',
        description: 'Kept in memory by this serve process (newest first, a bounded ring buffer; lost on restart). Names, versions and outcomes only.',
        tags: ['ui'],
        response: { 200: responseSchema(allHistoryAnswer), ...errors },
      },
    },
    async (request): Promise<z.output<typeof allHistoryAnswer>> => {
      const entries = auditTrail.recent();
      const visible = new Set(servicesInScope(request, [...new Set(entries.map((entry) => entry.service))]));
      return { kept: { where: 'memory', capacity: auditTrail.capacity }, entries: entries.filter((entry) => visible.has(entry.service)) };
    },
  );

  app.get<{ Params: z.output<typeof serviceParams> }>(
    '/services/:service/history',
    {
      config: { permission: 'check' },
      schema: {
        operationId: 'getServiceHistory',
        summary: 'The last renders and writes of a service, from serve\'s audit trail',
        description: 'Kept in memory by this serve process (newest first, a bounded ring buffer; lost on restart). Names, versions and outcomes only.',
        tags: ['ui'],
        params: requestSchema(serviceParams),
        response: { 200: responseSchema(historyAnswer), ...errors },
      },
    },
    async (request): Promise<z.output<typeof historyAnswer>> => {
      const { service } = request.params;
      requireService(request, service);
      return { service, kept: { where: 'memory', capacity: auditTrail.capacity }, entries: auditTrail.recent(service) };
    },
  );
}
