// `coffre check --format sarif`: the check report as a SARIF 2.1.0 log (GitHub code scanning and other SARIF
// viewers). Pure: report in, JSON text out. One result per finding (see ci-findings.ts), never a value.
import { findingsOf, ruleInfo, type CiFinding } from './ci-findings.js';
import type { CheckReport } from './report.js';

export const SARIF_SCHEMA_URI = 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';

/** The base every result URI is relative to (SARIF §3.14.14: a uriBaseId the consumer resolves). */
export const SARIF_SRCROOT = '%SRCROOT%';

export interface SarifOptions {
  toolVersion: string;
  /**
   * Where the coffre repo root sits inside the source root the viewer knows (the git work tree's top), posix
   * with a trailing `/`, or "" when they are the same (`examples/infra/` for the demo repo).
   */
  rootPrefix?: string;
}

/** A repo-relative posix path as a relative URI reference (each segment percent-encoded). */
export function relativeUri(rootPrefix: string, file: string): string {
  return `${rootPrefix}${file}`
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/');
}

function driver(options: SarifOptions, rules: string[]) {
  return {
    name: 'coffre',
    semanticVersion: options.toolVersion,
    version: options.toolVersion,
    rules: rules.map((id) => {
      const info = ruleInfo(id);
      return {
        id,
        name: id.replace(/(^|[-_])(\w)/g, (_m, _sep, c: string) => c.toUpperCase()).replace(/[^A-Za-z0-9]/g, ''),
        shortDescription: { text: info.short },
        fullDescription: { text: info.short },
        help: { text: info.help },
        defaultConfiguration: { level: defaultLevel(id) },
      };
    }),
  };
}

/** The level a rule has when nothing says otherwise: key statuses of optional keys and extra keys are notes. */
function defaultLevel(rule: string): 'error' | 'warning' | 'note' {
  if (rule === 'extra') return 'note';
  if (rule === 'example-warning' || rule === 'EXAMPLE_UNREFERENCED') return 'warning';
  return 'error';
}

function originalUriBaseIds() {
  return { [SARIF_SRCROOT]: { description: { text: "The top of the git work tree holding the coffre repo (the repository's root)" } } };
}

function resultOf(finding: CiFinding, ruleIndex: number, rootPrefix: string) {
  const physicalLocation = {
    artifactLocation: { uri: relativeUri(rootPrefix, finding.file), uriBaseId: SARIF_SRCROOT },
    ...(finding.line !== undefined ? { region: { startLine: finding.line } } : {}),
  };
  return {
    ruleId: finding.rule,
    ruleIndex,
    level: finding.level,
    message: { text: finding.message },
    locations: [{ physicalLocation }],
    partialFingerprints: { 'coffreFinding/v1': finding.fingerprint },
    ...(finding.service !== undefined || finding.key !== undefined
      ? { properties: { ...(finding.service !== undefined ? { service: finding.service } : {}), ...(finding.key !== undefined ? { key: finding.key } : {}) } }
      : {}),
  };
}

/** The SARIF log of a check report: one run, its rules (only those used), one result per finding. */
export function formatSarif(report: CheckReport, options: SarifOptions): string {
  const rootPrefix = options.rootPrefix ?? '';
  const findings = findingsOf(report);
  const rules = [...new Set(findings.map((f) => f.rule))];
  const index = new Map(rules.map((rule, i) => [rule, i]));
  const log = {
    $schema: SARIF_SCHEMA_URI,
    version: '2.1.0',
    runs: [
      {
        tool: { driver: driver(options, rules) },
        originalUriBaseIds: originalUriBaseIds(),
        invocations: [{ executionSuccessful: true }],
        results: findings.map((finding) => resultOf(finding, index.get(finding.rule) as number, rootPrefix)),
        properties: { complete: report.complete, keysOnly: report.keysOnly, summary: report.summary },
      },
    ],
  };
  return `${JSON.stringify(log, null, 2)}\n`;
}

/**
 * The SARIF log of a run that could not happen (usage error, unreadable config, Vault unreachable…): no
 * result, an unsuccessful invocation whose notification carries the error code and its safe message.
 */
export function formatSarifError(code: string, message: string, options: SarifOptions & { file?: string; line?: number }): string {
  const rootPrefix = options.rootPrefix ?? '';
  const location =
    options.file !== undefined && !options.file.startsWith('/') && !options.file.startsWith('../')
      ? [{ physicalLocation: { artifactLocation: { uri: relativeUri(rootPrefix, options.file), uriBaseId: SARIF_SRCROOT }, ...(options.line !== undefined ? { region: { startLine: options.line } } : {}) } }]
      : undefined;
  const log = {
    $schema: SARIF_SCHEMA_URI,
    version: '2.1.0',
    runs: [
      {
        tool: { driver: driver(options, []) },
        originalUriBaseIds: originalUriBaseIds(),
        invocations: [
          {
            executionSuccessful: false,
            toolExecutionNotifications: [{ level: 'error', descriptor: { id: code }, message: { text: `${code}: ${message}` }, ...(location ? { locations: location } : {}) }],
          },
        ],
        results: [],
      },
    ],
  };
  return `${JSON.stringify(log, null, 2)}\n`;
}
