// Go-exact text forms of scalars, as sops' Go code produces and parses them: strconv float/int/bool,
// time.Time RFC 3339 text, go-yaml v3 timestamps. Pure functions; callers decide which errors to raise.

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** `strconv.FormatFloat(v, 'f', -1, 64)`: shortest round-trip digits, never an exponent. */
export function formatGoFloat(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  if (n === 0) return Object.is(n, -0) ? '-0' : '0';
  // JS and Go both pick the shortest digit string that round-trips; only the notation differs.
  const text = String(n);
  const m = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!m) return text;
  const sign = m[1] ?? '';
  const whole = m[2] ?? '';
  const digits = whole + (m[3] ?? '');
  const point = whole.length + Number(m[4]);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return sign + digits + '0'.repeat(point - digits.length);
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** `strconv.ParseFloat(s, 64)` for decimal and inf/nan forms; undefined when Go would fail. */
export function parseGoFloat(text: string): number | undefined {
  if (/^[+-]?(inf|infinity)$/i.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(text)) return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
  const value = Number(text);
  // Go reports a range error (and sops fails) where JS quietly overflows to infinity.
  return Number.isFinite(value) ? value : undefined;
}

/** `strconv.Atoi` on a 64-bit platform (decimal, optional sign, int64 range); undefined when Go would fail. */
export function parseGoInt(text: string): bigint | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  const value = BigInt(text);
  return value < INT64_MIN || value > INT64_MAX ? undefined : value;
}

export function fitsInt64(value: bigint): boolean {
  return value >= INT64_MIN && value <= INT64_MAX;
}

/** `strconv.ParseBool`. */
export function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

/** How sops' `ToBytes` and value encryption write a bool (Python style). */
export function formatSopsBool(value: boolean): string {
  return value ? 'True' : 'False';
}

interface TimeParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** Fraction digits as written (may be empty), at most nanosecond precision is kept. */
  fraction: string;
  /** Offset in minutes east of UTC; 0 prints as `Z`. */
  offsetMinutes: number;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function validTime(p: TimeParts): boolean {
  return (
    p.month >= 1 &&
    p.month <= 12 &&
    p.day >= 1 &&
    p.day <= daysIn(p.year, p.month) &&
    p.hour < 24 &&
    p.minute < 60 &&
    p.second < 60
  );
}

function parseOffset(zone: string | undefined): number | undefined {
  if (zone === undefined || zone === 'Z') return 0;
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(zone);
  if (!m) return undefined;
  const hours = Number(m[2]);
  const minutes = Number(m[3]);
  if (hours >= 24 || minutes >= 60) return undefined;
  return (m[1] === '-' ? -1 : 1) * (hours * 60 + minutes);
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function formatTime(p: TimeParts, withFraction: boolean): string {
  let text = `${pad(p.year, 4)}-${pad(p.month, 2)}-${pad(p.day, 2)}T${pad(p.hour, 2)}:${pad(p.minute, 2)}:${pad(p.second, 2)}`;
  if (withFraction) {
    const nanos = p.fraction.slice(0, 9).padEnd(9, '0').replace(/0+$/, '');
    if (nanos !== '') text += `.${nanos}`;
  }
  if (p.offsetMinutes === 0) return `${text}Z`;
  const abs = Math.abs(p.offsetMinutes);
  return `${text}${p.offsetMinutes < 0 ? '-' : '+'}${pad(Math.floor(abs / 60), 2)}:${pad(abs % 60, 2)}`;
}

function timeParts(m: RegExpExecArray, zone: string | undefined): TimeParts | undefined {
  const offsetMinutes = parseOffset(zone);
  if (offsetMinutes === undefined) return undefined;
  const parts: TimeParts = {
    year: Number(m[1]),
    month: Number(m[2]),
    day: Number(m[3]),
    hour: Number(m[4] ?? 0),
    minute: Number(m[5] ?? 0),
    second: Number(m[6] ?? 0),
    fraction: m[7] ?? '',
    offsetMinutes,
  };
  return validTime(parts) ? parts : undefined;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})$/;

/** `time.Parse(time.RFC3339, s)`; undefined when Go would fail. */
function parseRfc3339(text: string): TimeParts | undefined {
  const m = RFC3339.exec(text);
  return m ? timeParts(m, m[8]) : undefined;
}

/** `time.Time.MarshalText` after `UnmarshalText` (RFC 3339 with nanoseconds); undefined when unparsable. */
export function canonicalTimeText(text: string): string | undefined {
  const parts = parseRfc3339(text);
  return parts && formatTime(parts, true);
}

/** `Format(RFC3339, Parse(RFC3339, s))`, the MAC's AAD from `lastmodified`; undefined when unparsable. */
export function reformatRfc3339(text: string): string | undefined {
  const parts = parseRfc3339(text);
  return parts && formatTime(parts, false);
}

/** `time.Now().UTC()` truncated to seconds, as sops writes `lastmodified`. */
export function formatLastModified(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const YAML_TIMESTAMPS: Array<{ pattern: RegExp; zoned: boolean }> = [
  { pattern: /^(\d{4})-(\d{1,2})-(\d{1,2})[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})$/, zoned: true },
  { pattern: /^(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,](\d+))?$/, zoned: false },
  { pattern: /^(\d{4})-(\d{1,2})-(\d{1,2})$/, zoned: false },
];

/**
 * go-yaml v3 `parseTimestamp` on a plain scalar: the RFC 3339 nanoseconds text of the instant, or undefined
 * when go-yaml would not see a timestamp.
 */
export function yamlTimestampAsTime(text: string): string | undefined {
  for (const { pattern, zoned } of YAML_TIMESTAMPS) {
    const m = pattern.exec(text);
    if (!m) continue;
    const parts = timeParts(m, zoned ? m[8] : undefined);
    if (parts) return formatTime(parts, true);
  }
  return undefined;
}
