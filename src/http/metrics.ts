// The metrics of one `coffre serve` app, on prom-client with a Registry of its own (never prom-client's global
// one: tests build several apps in one process). Labels are route patterns, methods, status classes, outcomes
// and Vault operation kinds only: never a URL, a service-supplied string or anything that could hold a value.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { VaultRequestObserver } from '../sources/vault-transport.js';

/** Options of {@link createServerMetrics}. */
export interface ServerMetricsOptions {
  /** coffre's version and the Node.js version serving, shown by coffre_build_info. */
  build: { version: string; node: string };
  /** prom-client's default process and Node.js metrics (default true). */
  processMetrics?: boolean;
}

/** The metrics coffre's HTTP server records, and its Vault transports report into. */
export interface ServerMetrics {
  registry: Registry;
  /** coffre_http_requests_total{method, route, status} */
  requests: Counter<'method' | 'route' | 'status'>;
  /** coffre_http_request_duration_seconds{method, route, status_class} */
  requestSeconds: Histogram<'method' | 'route' | 'status_class'>;
  /** coffre_renders_total{outcome}: written, unchanged, planned, refused, error. */
  renders: Counter<'outcome'>;
  /** coffre_secret_writes_total{action, outcome}: rotate|set|rollback × changed, unchanged, render-failed, error. */
  secretWrites: Counter<'action' | 'outcome'>;
  /** coffre_http_auth_failures_total{reason} */
  authFailures: Counter<'reason'>;
  /** Hand to openVaultSession / openWorkspace (`vaultObserver`): fills the coffre_vault_* metrics. */
  vaultObserver: VaultRequestObserver;
  /** The registry in the Prometheus text format, and its content type. */
  expose(): Promise<{ contentType: string; text: string }>;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createServerMetrics(options: ServerMetricsOptions): ServerMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  new Gauge({ name: 'coffre_build_info', help: 'Always 1: the coffre version and Node.js version serving.', labelNames: ['version', 'node'], registers }).set(
    { version: options.build.version, node: options.build.node },
    1,
  );
  const vaultSeconds = new Histogram({
    name: 'coffre_vault_request_duration_seconds',
    help: 'Vault/OpenBao request latency by operation kind and outcome (status class, unreachable, timeout).',
    labelNames: ['operation', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const vaultErrors = new Counter({
    name: 'coffre_vault_request_errors_total',
    help: 'Vault/OpenBao requests that did not answer 2xx, by operation kind and class (3xx, 4xx, 5xx, unreachable, timeout).',
    labelNames: ['operation', 'class'] as const,
    registers,
  });
  return {
    registry,
    requests: new Counter({ name: 'coffre_http_requests_total', help: 'HTTP requests by method, route pattern and status.', labelNames: ['method', 'route', 'status'] as const, registers }),
    requestSeconds: new Histogram({
      name: 'coffre_http_request_duration_seconds',
      help: 'HTTP request latency by method, route pattern and status class.',
      labelNames: ['method', 'route', 'status_class'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    renders: new Counter({ name: 'coffre_renders_total', help: 'Service renders by outcome (written, unchanged, planned, refused, error).', labelNames: ['outcome'] as const, registers }),
    secretWrites: new Counter({
      name: 'coffre_secret_writes_total',
      help: 'Secret writes (rotate, set, rollback) by outcome (changed, unchanged, render-failed, error).',
      labelNames: ['action', 'outcome'] as const,
      registers,
    }),
    authFailures: new Counter({ name: 'coffre_http_auth_failures_total', help: 'Refused authentications by reason.', labelNames: ['reason'] as const, registers }),
    vaultObserver: {
      requestSettled({ operation, outcome, seconds }) {
        vaultSeconds.observe({ operation, outcome }, seconds);
        if (outcome !== '2xx') vaultErrors.inc({ operation, class: outcome });
      },
    },
    async expose() {
      return { contentType: registry.contentType, text: await registry.metrics() };
    },
  };
}

/** `2xx`… for an HTTP status. */
export function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}
