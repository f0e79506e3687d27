// Compose-file interpolation of one string (compose-go `template` semantics: `$$`, `$V`, `${V}`, `${V:-d}`,
// `${V-d}`, `${V:?e}`, `${V?e}`, `${V:+r}`, `${V+r}`, nested), used for `env_file` paths. Pure.
// Stricter than compose on purpose: a variable that is unset with no default is a failure, not "".

/** Looks up a variable of the project environment (shell first, then the project `.env`). */
export type VariableLookup = (name: string) => string | undefined;

/** The outcome of {@link interpolateComposeString}; `reason` names variables, never their values. */
export type InterpolationResult = { ok: true; value: string } | { ok: false; reason: string };

const NAME = /^[_a-zA-Z][_a-zA-Z0-9]*/;
const OPERATORS = [':-', ':?', ':+', '-', '?', '+'] as const;

class InterpolationFailure extends Error {}

/** Bounds: an env_file path is a path (PATH_MAX is 4096), and nesting deeper than this is an attack, not a path. */
export const MAX_INTERPOLATED_PATH = 4096;
export const MAX_INTERPOLATION_NESTING = 32;

/** Interpolates `text` the way docker compose interpolates a compose file value. */
export function interpolateComposeString(text: string, lookup: VariableLookup): InterpolationResult {
  try {
    return { ok: true, value: substitute(text, lookup) };
  } catch (error) {
    if (error instanceof InterpolationFailure) return { ok: false, reason: error.message };
    throw error;
  }
}

function substitute(text: string, lookup: VariableLookup, depth = 0): string {
  if (depth > MAX_INTERPOLATION_NESTING) throw new InterpolationFailure(`\${…} nested more than ${MAX_INTERPOLATION_NESTING} deep`);
  let out = '';
  let i = 0;
  while (i < text.length) {
    if (out.length > MAX_INTERPOLATED_PATH) throw new InterpolationFailure(`expands to more than ${MAX_INTERPOLATED_PATH} characters`);
    const dollar = text.indexOf('$', i);
    if (dollar === -1) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, dollar);
    const next = text[dollar + 1];
    if (next === '$') {
      out += '$';
      i = dollar + 2;
    } else if (next === '{') {
      const close = findClosingBrace(text, dollar + 2);
      if (close === -1) throw new InterpolationFailure(`unclosed "\${" in "${text}"`);
      out += substituteBraced(text.slice(dollar + 2, close), lookup, text, depth);
      i = close + 1;
    } else {
      const name = NAME.exec(text.slice(dollar + 1))?.[0];
      if (name === undefined) throw new InterpolationFailure(`invalid "$" in "${text}" (write "$$" for a literal "$")`);
      out += valueOrFail(name, lookup);
      i = dollar + 1 + name.length;
    }
  }
  if (out.length > MAX_INTERPOLATED_PATH) throw new InterpolationFailure(`expands to more than ${MAX_INTERPOLATED_PATH} characters`);
  return out;
}

/** Index of the `}` closing a `${` whose body starts at `start`, counting nested `${…}`; -1 if none. */
function findClosingBrace(text: string, start: number): number {
  let depth = 1;
  for (let j = start; j < text.length; j++) {
    if (text[j] === '$' && text[j + 1] === '{') {
      depth++;
      j++;
    } else if (text[j] === '}' && --depth === 0) {
      return j;
    }
  }
  return -1;
}

function substituteBraced(body: string, lookup: VariableLookup, whole: string, depth: number): string {
  const name = NAME.exec(body)?.[0];
  if (name === undefined) throw new InterpolationFailure(`invalid "\${${body}}" in "${whole}"`);
  const rest = body.slice(name.length);
  if (rest === '') return valueOrFail(name, lookup);
  const operator = OPERATORS.find((op) => rest.startsWith(op));
  if (operator === undefined) throw new InterpolationFailure(`invalid "\${${body}}" in "${whole}"`);
  // The argument is itself interpolated, but only when it is used (compose-go ≥ 2.x behaviour).
  const argument = (): string => substitute(rest.slice(operator.length), lookup, depth + 1);
  const value = lookup(name);
  const set = value !== undefined;
  const nonEmpty = set && value !== '';
  switch (operator) {
    case ':-':
      return nonEmpty ? value : argument();
    case '-':
      return set ? value : argument();
    case ':?':
      if (!nonEmpty) throw new InterpolationFailure(`variable ${name} is required: ${argument() || 'unset or empty'}`);
      return value;
    case '?':
      if (!set) throw new InterpolationFailure(`variable ${name} is required: ${argument() || 'unset'}`);
      return value;
    case ':+':
      return nonEmpty ? argument() : '';
    case '+':
      return set ? argument() : '';
  }
}

function valueOrFail(name: string, lookup: VariableLookup): string {
  const value = lookup(name);
  if (value === undefined) throw new InterpolationFailure(`variable ${name} is not set (in the project .env or the environment) and has no default`);
  return value;
}

/** A variable a compose value interpolates; `hasDefault` when every use gives a fallback (`${V:-d}`, `${V-d}`, `${V:+r}`, `${V+r}`). */
export interface ComposeVariableUse {
  name: string;
  hasDefault: boolean;
}

/**
 * The variables `text` interpolates, in order of first use (one entry per name), as compose reads them: `$$`
 * is a literal `$`, and variables inside a default are listed too. Never fails: an invalid `$` is skipped.
 */
export function listComposeVariables(text: string, into: Map<string, ComposeVariableUse> = new Map(), depth = 0): Map<string, ComposeVariableUse> {
  // Deeper nesting is refused where it is interpolated (a path); here it simply stops the scan.
  if (depth > MAX_INTERPOLATION_NESTING) return into;
  const note = (name: string, hasDefault: boolean): void => {
    const seen = into.get(name);
    if (seen === undefined) into.set(name, { name, hasDefault });
    else seen.hasDefault &&= hasDefault;
  };
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf('$', i);
    if (dollar === -1) break;
    const next = text[dollar + 1];
    if (next === '$') {
      i = dollar + 2;
    } else if (next === '{') {
      const close = findClosingBrace(text, dollar + 2);
      if (close === -1) break;
      const body = text.slice(dollar + 2, close);
      const name = NAME.exec(body)?.[0];
      if (name !== undefined) {
        const rest = body.slice(name.length);
        const operator = OPERATORS.find((op) => rest.startsWith(op));
        note(name, operator === ':-' || operator === '-' || operator === ':+' || operator === '+');
        if (operator !== undefined) listComposeVariables(rest.slice(operator.length), into, depth + 1);
      }
      i = close + 1;
    } else {
      const name = NAME.exec(text.slice(dollar + 1))?.[0];
      if (name !== undefined) note(name, false);
      i = dollar + 1 + (name?.length ?? 0);
    }
  }
  return into;
}
