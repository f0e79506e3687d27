// The HTTP contract: zod schemas of every request and response, and their JSON Schema form for fastify.
// Response schemas are allow-lists: fastify serialises only the fields named here, so a value cannot leak
// through a field a use-case adds later. No field here may ever carry a secret value.
import * as z from 'zod';

/** One `{ code, message }` as every error body and every in-report error carries it. */
export const errorDetail = z.object({ code: z.string(), message: z.string() });

/** The body of every error answer. */
export const errorBody = z.object({ error: errorDetail });

const keyResult = z.object({
  name: z.string(),
  status: z.enum(['ok', 'missing', 'empty', 'placeholder', 'extra']),
  line: z.number().int().nullable(),
  optional: z.boolean(),
});

const sourceLabel = z.object({
  kind: z.enum(['vault', 'sops']).nullable(),
  ref: z.string().nullable(),
});

const fileResult = z.object({
  example: z.string().nullable(),
  target: z.string(),
  source: sourceLabel,
  status: z.enum(['complete', 'incomplete', 'source-missing', 'error']),
  keys: z.array(keyResult),
  warnings: z.array(z.object({ line: z.number().int(), message: z.string() })),
  error: errorDetail.optional(),
  version: z.number().int().optional(),
  reason: z.string().optional(),
  note: z.string().optional(),
});

/** `coffre check --format json`, version 1 (src/core/report.ts `CheckReport`). */
export const checkReport = z.object({
  version: z.literal(1),
  complete: z.boolean(),
  keysOnly: z.boolean(),
  services: z.array(
    z.object({
      name: z.string(),
      files: z.array(fileResult),
      errors: z.array(z.object({ code: z.string(), file: z.string(), line: z.number().int().optional(), message: z.string() })).optional(),
    }),
  ),
  problems: z.array(
    z.object({
      severity: z.enum(['error', 'warning']),
      code: z.string(),
      file: z.string(),
      line: z.number().int().optional(),
      message: z.string(),
    }),
  ),
  summary: z.object({
    services: z.number().int(),
    files: z.number().int(),
    complete: z.number().int(),
    incomplete: z.number().int(),
    sourceMissing: z.number().int(),
    errors: z.number().int(),
    warningsSilenced: z.number().int().optional(),
  }),
});

const renderFileResult = z.object({
  target: z.string(),
  example: z.string().nullable(),
  source: sourceLabel,
  action: z.enum(['create', 'update', 'unchanged']),
  sha256: z.string(),
  keys: z.object({ added: z.array(z.string()), changed: z.array(z.string()), removed: z.array(z.string()) }),
  extraKeys: z.array(z.string()),
  mode: z.string(),
  /** `asOf` only: where each rendered key's value comes from (never the value). */
  valueSources: z
    .array(
      z.object({
        key: z.string(),
        from: z.enum(['current', 'vault-version', 'sops-commit']),
        version: z.number().int().optional(),
        date: z.string().optional(),
        commit: z.string().optional(),
      }),
    )
    .optional(),
});

/** `asOf` only: the commit whose configuration was rendered, and which values it took. */
const asOfAnswer = z.object({ commit: z.string(), committedAt: z.string(), values: z.enum(['current', 'at-commit-date']) });

const serviceRenderResult = z.object({
  service: z.string(),
  status: z.enum(['written', 'unchanged', 'planned', 'refused', 'error']),
  files: z.array(renderFileResult),
  problems: z.array(z.object({ target: z.string(), key: keyResult })),
  error: errorDetail.optional(),
  forced: z.boolean(),
});

/**
 * A render answer: the use-case's RenderReport for one service. When the service was refused or failed,
 * `error` repeats its code and message at the top so clients read errors the same way on every route.
 */
export const renderAnswer = z.object({
  version: z.literal(1),
  dryRun: z.boolean(),
  asOf: asOfAnswer.optional(),
  services: z.array(serviceRenderResult),
  error: errorDetail.optional(),
});

/** Non-2xx answers of the render route: an error, with the report when the render ran. */
export const renderErrorAnswer = errorBody.extend({
  version: z.literal(1).optional(),
  dryRun: z.boolean().optional(),
  asOf: asOfAnswer.optional(),
  services: z.array(serviceRenderResult).optional(),
});

/** GET /v1/services */
export const serviceList = z.object({
  services: z.array(
    z.object({
      name: z.string(),
      composeFile: z.string(),
      files: z.array(
        z.object({
          target: z.string(),
          example: z.string().nullable(),
          format: z.enum(['compose', 'raw', 'secret']),
          required: z.boolean(),
          source: sourceLabel,
        }),
      ),
    }),
  ),
});

/** The longest path parameter (service and file names), in characters; the router is sized from it (app.ts). */
export const MAX_PARAM_CHARS = 512;

export const serviceParams = z.object({ service: z.string().min(1).max(MAX_PARAM_CHARS) });
export const checkQuery = z.object({ keysOnly: z.boolean().default(false) });
/**
 * `{}`, `{ "dryRun": bool }`, `null` or no body; an unknown field (say `dryrun`) is refused, not ignored.
 * `asOf`: a commit id, 4 to 40 hex digits (no ref names), whose configuration is rendered (`render --as-of`);
 * `valuesAsOf` (only with asOf): values as of the commit's date.
 */
export const renderBody = z
  .strictObject({
    dryRun: z.boolean().optional(),
    asOf: z.string().regex(/^[0-9a-fA-F]{4,40}$/).optional(),
    valuesAsOf: z.boolean().optional(),
  })
  .nullable();

/** GET /readyz */
export const readiness = z.object({
  ready: z.boolean(),
  vault: z
    .object({
      configured: z.boolean(),
      ok: z.boolean(),
      initialized: z.boolean().optional(),
      sealed: z.boolean().optional(),
      version: z.string().optional(),
      tokenTtlSeconds: z.number().optional(),
      error: errorDetail.optional(),
    }),
  sops: z.object({ ageIdentities: z.number().int(), sopsFiles: z.number().int(), ok: z.boolean() }),
});

export const liveness = z.object({ status: z.literal('ok') });

/** A JSON Schema (draft-07, what fastify's ajv speaks) for a request part: defaults are not required. */
export function requestSchema(schema: z.ZodType): Record<string, unknown> {
  return jsonSchemaOf(schema, 'input');
}

/** A JSON Schema (draft-07) for a response: fastify serialises only what it names. */
export function responseSchema(schema: z.ZodType): Record<string, unknown> {
  return jsonSchemaOf(schema, 'output');
}

function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-7', io }) as Record<string, unknown>;
  void _dialect;
  return rest;
}

export type CheckQuery = z.output<typeof checkQuery>;
export type ServiceParams = z.output<typeof serviceParams>;
export type ServiceList = z.output<typeof serviceList>;
export type Readiness = z.output<typeof readiness>;
