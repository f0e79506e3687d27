// A minimal Prometheus registry (counters and histograms with labels) and its text exposition format 0.0.4.
// Hand-written because no metrics library is installed. Labels are route patterns, methods, statuses and
// outcomes only: never a service-supplied string that could hold a value.

type Labels = Readonly<Record<string, string>>;

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((name) => `${name}="${escapeLabel(labels[name] as string)}"`)
    .join(',');
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** A monotonically increasing count per label set. */
export interface Counter {
  inc(labels?: Labels, by?: number): void;
}

/** Observations bucketed by upper bound, with their sum and count, per label set. */
export interface Histogram {
  observe(labels: Labels, value: number): void;
}

interface Family {
  expose(): string;
}

/** The metrics of one server, exposed by GET /metrics. */
export interface MetricsRegistry {
  counter(name: string, help: string): Counter;
  histogram(name: string, help: string, buckets: readonly number[]): Histogram;
  /** The whole registry in Prometheus text format. */
  expose(): string;
}

export function createMetricsRegistry(): MetricsRegistry {
  const families: Family[] = [];
  return {
    counter(name, help) {
      const values = new Map<string, number>();
      families.push({
        expose: () => {
          const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} counter`];
          for (const [key, value] of values) lines.push(`${name}${key === '' ? '' : `{${key}}`} ${value}`);
          return lines.join('\n');
        },
      });
      return {
        inc(labels = {}, by = 1) {
          const key = labelKey(labels);
          values.set(key, (values.get(key) ?? 0) + by);
        },
      };
    },
    histogram(name, help, buckets) {
      const bounds = [...buckets].sort((a, b) => a - b);
      const series = new Map<string, { counts: number[]; sum: number; count: number }>();
      families.push({
        expose: () => {
          const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
          for (const [key, s] of series) {
            const prefix = key === '' ? '' : `${key},`;
            let cumulative = 0;
            bounds.forEach((bound, i) => {
              cumulative += s.counts[i] ?? 0;
              lines.push(`${name}_bucket{${prefix}le="${bound}"} ${cumulative}`);
            });
            lines.push(`${name}_bucket{${prefix}le="+Inf"} ${s.count}`);
            lines.push(`${name}_sum${key === '' ? '' : `{${key}}`} ${s.sum}`);
            lines.push(`${name}_count${key === '' ? '' : `{${key}}`} ${s.count}`);
          }
          return lines.join('\n');
        },
      });
      return {
        observe(labels, value) {
          const key = labelKey(labels);
          let s = series.get(key);
          if (!s) {
            s = { counts: bounds.map(() => 0), sum: 0, count: 0 };
            series.set(key, s);
          }
          const index = bounds.findIndex((bound) => value <= bound);
          if (index >= 0) s.counts[index] = (s.counts[index] ?? 0) + 1;
          s.sum += value;
          s.count += 1;
        },
      };
    },
    expose() {
      return `${families.map((f) => f.expose()).join('\n')}\n`;
    },
  };
}

/** The metrics coffre's HTTP server records. */
export interface ServerMetrics {
  registry: MetricsRegistry;
  requests: Counter;
  requestSeconds: Histogram;
  renders: Counter;
  authFailures: Counter;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

export function createServerMetrics(): ServerMetrics {
  const registry = createMetricsRegistry();
  return {
    registry,
    requests: registry.counter('coffre_http_requests_total', 'HTTP requests by method, route pattern and status.'),
    requestSeconds: registry.histogram('coffre_http_request_duration_seconds', 'HTTP request latency by method and route pattern.', LATENCY_BUCKETS),
    renders: registry.counter('coffre_renders_total', 'Service renders by outcome (written, unchanged, planned, refused, error).'),
    authFailures: registry.counter('coffre_http_auth_failures_total', 'Refused authentications by reason.'),
  };
}
