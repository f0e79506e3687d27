// PUT /v1/services/:service/secrets/:file/keys/:key (a new value: generated or given), POST …/rollback (Vault
// KV v2) and GET …/versions. Writes are admin-only, serialised per service, audited; answers carry key names
// and versions only: the response schemas below have no field a value could travel in.
import type { FastifyInstance } from 'fastify';
import * as z from 'zod';
import { GENERATE_ALPHABETS, GENERATE_MAX_LENGTH, GENERATE_MIN_LENGTH, type GenerateCharset } from '../../core/generate.js';
import { CoffreError, ERROR_CODES } from '../../errors.js';
import { runRollback, runRotate, type AuditRecord, type NewValue, type WriteResult } from '../../use-cases/rotate.js';
import { listVersions, type VersionsReport } from '../../use-cases/versions.js';
import type { RouteContext } from '../app.js';
import { requireService } from '../authentication.js';
import { errorBody, errorDetail, MAX_PARAM_CHARS, renderAnswer, requestSchema, responseSchema, serviceParams } from '../schemas.js';

const fileParams = serviceParams.extend({ file: z.string().min(1).max(MAX_PARAM_CHARS) });
const keyParams = fileParams.extend({ key: z.string().min(1).max(256) });

const charsets = Object.keys(GENERATE_ALPHABETS) as [GenerateCharset, ...GenerateCharset[]];

/** The longest value a PUT accepts, in characters (code points, as JSON Schema's maxLength counts them). */
const MAX_VALUE_CHARS = 8192;

/**
 * The PUT body limit, so that every schema-valid body fits: each code point of a maximal value written as a
 * JSON surrogate-pair escape `\uD83D\uDE00` (12 bytes, the worst case), plus 1 KiB for the rest of the object
 * (its field names escaped too, booleans, whitespace).
 */
export const PUT_BODY_LIMIT = MAX_VALUE_CHARS * 12 + 1024;

const writeOptions = { render: z.boolean().optional(), allowExtra: z.boolean().optional() };

/** `{ generate: {charset?, length?} }` or `{ value }` (exactly one: a JSON Schema oneOf), optionally `render`. */
const putKeyBody = z.xor([
  z.strictObject({
    generate: z.strictObject({ charset: z.enum(charsets).optional(), length: z.number().int().min(GENERATE_MIN_LENGTH).max(GENERATE_MAX_LENGTH).optional() }),
    ...writeOptions,
  }),
  z.strictObject({ value: z.string().max(MAX_VALUE_CHARS), ...writeOptions }),
]);

const rollbackBody = z.strictObject({ to: z.number().int().min(1), render: z.boolean().optional() });

const sourceLabel = z.object({ kind: z.enum(['vault', 'sops']), ref: z.string() });

/** A write answer: names, versions, the generation spec; never a value. */
const writeAnswer = z.object({
  action: z.enum(['rotate', 'set', 'rollback']),
  service: z.string(),
  file: z.string(),
  target: z.string(),
  key: z.string().nullable(),
  source: sourceLabel,
  created: z.boolean(),
  changed: z.boolean(),
  oldVersion: z.number().int().nullable(),
  newVersion: z.number().int().nullable(),
  oldLastModified: z.string().optional(),
  newLastModified: z.string().optional(),
  generated: z.object({ charset: z.string(), length: z.number().int() }).optional(),
  render: renderAnswer.shape.services.element.optional(),
  renderFailed: z.boolean(),
  /** How to undo, when the render after the write failed. */
  rollbackHint: z.string().optional(),
  error: errorDetail.optional(),
});

const versionsAnswer = z.object({
  service: z.string(),
  file: z.string(),
  target: z.string(),
  source: sourceLabel,
  exists: z.boolean(),
  currentVersion: z.number().int().nullable().optional(),
  versions: z.array(z.object({ version: z.number().int(), createdTime: z.string(), deletionTime: z.string(), destroyed: z.boolean(), current: z.boolean() })).optional(),
  lastModified: z.string().nullable().optional(),
  git: z.array(z.object({ commit: z.string(), date: z.string(), subject: z.string() })).nullable().optional(),
});

type FileParams = z.output<typeof fileParams>;
type KeyParams = z.output<typeof keyParams>;
type PutKeyBody = { generate?: z.output<typeof putKeyBody.options[0]>['generate']; value?: string; render?: boolean; allowExtra?: boolean };
type RollbackBody = z.output<typeof rollbackBody>;

const writeResponses = { 200: responseSchema(writeAnswer), '4xx': responseSchema(writeAnswer.partial().extend({ error: errorDetail })), '5xx': responseSchema(writeAnswer.partial().extend({ error: errorDetail })) };

export async function secretRoutes(app: FastifyInstance, { context }: { context: RouteContext }): Promise<void> {
  app.put<{ Params: KeyParams; Body: PutKeyBody }>(
    '/services/:service/secrets/:file/keys/:key',
    {
      config: { permission: 'admin' },
      bodyLimit: PUT_BODY_LIMIT,
      schema: {
        operationId: 'writeSecretKey',
        summary: 'Write a new value for one key (generated or given)',
        description:
          'Rotation = a new VALUE (not sops re-keying). Vault: check-and-set against the version read (409 COFFRE_CONFLICT when it ' +
          'changed meanwhile); sops: atomic rewrite with the same data key. A missing key is created. The value is never returned.',
        tags: ['secrets'],
        params: requestSchema(keyParams),
        body: requestSchema(putKeyBody),
        response: writeResponses,
      },
    },
    async (request, reply) => {
      const { service, file, key } = request.params;
      const principal = requireService(request, service);
      const body = request.body;
      if ((body.generate === undefined) === (body.value === undefined)) throw new CoffreError('COFFRE_USAGE', 'give exactly one of "generate" or "value"');
      const value: NewValue = body.value !== undefined ? { kind: 'value', value: body.value } : { kind: 'generate', ...body.generate };
      const result = await counted(context, value.kind === 'value' ? 'set' : 'rotate', () =>
        context.queue.run(service, () =>
          context.withWorkspace((workspace) =>
            runRotate(workspace, { service, file, key, value, mode: 'upsert', render: body.render ?? false, allowExtra: body.allowExtra ?? false, who: principal.id, audit: auditTo(context, request.id) }),
          { services: [service] }),
        ),
      );
      return answer(reply, result, service);
    },
  );

  app.post<{ Params: FileParams; Body: RollbackBody }>(
    '/services/:service/secrets/:file/rollback',
    {
      config: { permission: 'admin' },
      schema: {
        operationId: 'rollbackSecretFile',
        summary: 'Make an older Vault KV v2 version current again',
        description: 'Writes the data of version `to` as a new version, with check-and-set. sops files: 400 (their history is git).',
        tags: ['secrets'],
        params: requestSchema(fileParams),
        body: requestSchema(rollbackBody),
        response: writeResponses,
      },
    },
    async (request, reply) => {
      const { service, file } = request.params;
      const principal = requireService(request, service);
      const result = await counted(context, 'rollback', () =>
        context.queue.run(service, () =>
          context.withWorkspace(
            (workspace) => runRollback(workspace, { service, file, to: request.body.to, render: request.body.render ?? false, who: principal.id, audit: auditTo(context, request.id) }),
            { services: [service] },
          ),
        ),
      );
      return answer(reply, result, service);
    },
  );

  app.get<{ Params: FileParams }>(
    '/services/:service/secrets/:file/versions',
    {
      config: { permission: 'check' },
      schema: {
        operationId: 'listSecretFileVersions',
        summary: 'Versions of a secrets file (Vault KV v2 versions; sops lastmodified and git commits)',
        tags: ['secrets'],
        params: requestSchema(fileParams),
        response: { 200: responseSchema(versionsAnswer), '4xx': responseSchema(errorBody), '5xx': responseSchema(errorBody) },
      },
    },
    async (request): Promise<VersionsReport> => {
      const { service, file } = request.params;
      requireService(request, service);
      return context.withWorkspace((workspace) => listVersions(workspace, { service, file }), { services: [service] });
    },
  );
}

/** Runs a write and counts its outcome in coffre_secret_writes_total. */
async function counted(context: RouteContext, action: 'rotate' | 'set' | 'rollback', write: () => Promise<WriteResult>): Promise<WriteResult> {
  let result: WriteResult;
  try {
    result = await write();
  } catch (error) {
    context.metrics.secretWrites.inc({ action, outcome: 'error' });
    throw error;
  }
  context.metrics.secretWrites.inc({ action, outcome: result.renderFailed ? 'render-failed' : result.changed ? 'changed' : 'unchanged' });
  return result;
}

function auditTo(context: RouteContext, reqId: string): (record: AuditRecord) => void {
  return ({ who, ...record }) => context.audit.info({ audit: record.action, reqId, tokenId: who, ...record }, record.action);
}

/** 200 with the result; when the render after a successful write failed, its status, the error and how to undo. */
function answer(reply: { code(status: number): { send(body: unknown): unknown } }, result: WriteResult, service: string): unknown {
  if (!result.renderFailed || !result.render) return result;
  const error = result.render.error ?? { code: 'COFFRE_TARGET_WRITE' as const, message: `render ended as ${result.render.status}` };
  const hint =
    result.rollback.kind === 'vault'
      ? `POST /v1/services/${service}/secrets/${result.file}/rollback {"to": ${result.rollback.toVersion}}`
      : result.rollback.kind === 'sops'
        ? `git checkout -- ${result.rollback.file}`
        : `the secret did not exist before: delete ${result.source.ref}`;
  return reply.code(ERROR_CODES[error.code].http).send({
    ...result,
    rollbackHint: hint,
    error: { code: error.code, message: `the write succeeded but rendering ${service} failed: ${error.message}` },
  });
}
