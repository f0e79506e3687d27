// A fatal error as a machine-readable document, so that `--format json|junit > report` never leaves an empty or
// half-written report: json `{ "version": 1, "error": { "code", "message" } }`, junit one errored test case.
// Only the error's code and its safe message (never a value) go into it. sarif: a log whose one invocation
// failed, with the code in its notification; gitlab: one blocker issue (an empty array would read as clean).
import { formatGitlabError } from '../core/gitlab-report.js';
import { formatSarifError } from '../core/sarif.js';

/** Where the error points to (repo-relative), and the version a SARIF log names. */
export interface ErrorDocumentContext {
  file?: string;
  line?: number;
  toolVersion?: string;
}

/** The error document for `format`, or null for a human format. */
export function formatErrorDocument(format: string, code: string, message: string, context: ErrorDocumentContext = {}): string | null {
  const where = { ...(context.file !== undefined ? { file: context.file } : {}), ...(context.line !== undefined ? { line: context.line } : {}) };
  if (format === 'sarif') return formatSarifError(code, message, { toolVersion: context.toolVersion ?? '0.0.0', ...where });
  if (format === 'gitlab') return formatGitlabError(code, message, where);
  if (format === 'json') return `${JSON.stringify({ version: 1, error: { code, message } }, null, 2)}\n`;
  if (format !== 'junit') return null;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<testsuites name="coffre" tests="1" failures="0" errors="1">',
    '  <testsuite name="coffre" tests="1" failures="0" errors="1">',
    `    <testcase classname="coffre" name="${xmlEscape(code)}">`,
    `      <error type="${xmlEscape(code)}" message="${xmlEscape(message)}"/>`,
    '    </testcase>',
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

function xmlEscape(text: string): string {
  // Characters XML 1.0 cannot carry at all are replaced; the rest are escaped (newlines too, for attributes).
  return text
    .replace(/[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;')
    .replace(/\t/g, '&#9;');
}
