// GET /openapi.json (generated from the route schemas) and GET /docs (a self-contained HTML index of the
// routes with a link to the document; no script, no CDN).
import type { FastifyInstance } from 'fastify';
import { buildOpenApiDocument, type CollectedRoute } from '../openapi.js';

const INFO = { title: 'coffre', version: '0.1.0' };

export async function docsRoutes(app: FastifyInstance, { routes }: { routes: CollectedRoute[] }): Promise<void> {
  app.get(
    '/openapi.json',
    { schema: { summary: 'This API as OpenAPI 3.1', tags: ['docs'], response: { 200: { type: 'object', additionalProperties: true } } } },
    async () => buildOpenApiDocument(routes, INFO),
  );

  app.get(
    '/docs',
    { config: { contentType: 'text/html' }, schema: { summary: 'A human index of the API', tags: ['docs'], response: { 200: { type: 'string' } } } },
    async (_request, reply) =>
      reply
        .header('content-type', 'text/html; charset=utf-8')
        .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
        .send(docsPage(buildOpenApiDocument(routes, INFO))),
  );
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function docsPage(document: Record<string, unknown>): string {
  const paths = document.paths as Record<string, Record<string, { summary?: string; description?: string; security?: unknown[] }>>;
  const rows: string[] = [];
  for (const [url, operations] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(operations)) {
      const auth = op.security && op.security.length > 0 ? 'Bearer token' : 'open';
      rows.push(
        `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${escapeHtml(url)}</code></td><td>${escapeHtml(op.summary ?? '')}` +
          `${op.description ? `<br><small>${escapeHtml(op.description)}</small>` : ''}</td><td>${auth}</td></tr>`,
      );
    }
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>coffre API</title>
<style>body{font:15px/1.4 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}</style>
</head><body>
<h1>coffre API</h1>
<p>Answers carry key names, statuses and sha256 digests, never a secret value. The full contract, generated from the route schemas: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
<p>Every <code>/v1</code> route needs <code>Authorization: Bearer &lt;token&gt;</code> (create one with <code>coffre token new</code>).</p>
<table><thead><tr><th>Method</th><th>Path</th><th>What</th><th>Auth</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table>
</body></html>
`;
}
