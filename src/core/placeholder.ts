// Recognises values that only stand in for a secret (`changeme`, `<token>`, `{PASSDB}`, empty…).
// A data-driven list: each pattern says why it is there. It judges one value alone, never the key name.

/** One placeholder form, with the evidence for it and the false positives it risks. */
interface PlaceholderPattern {
  pattern: RegExp;
  why: string;
}

/**
 * Every pattern is anchored on the whole (trimmed) value, so a marker embedded in a real value
 * (`postgres://app:changeme@db/app`) is *not* a placeholder: the secret sits inside a template that is
 * copied through as-is. Deliberately absent:
 * - ALL-CAPS words (`GENERATEADMINTOKENHERE`) – legitimate enum values look the same (`REMOTE_USER`);
 * - `${…}` references – derived config, not placeholders;
 * - weak demo values (`admin123`, `postgres`) – plausible real values; a name-based rule must judge them.
 * False-positive risks, accepted: a real secret that is literally `secret`, `password`, `changeme`, `xxx`,
 * `TODO` (all unusable as secrets anyway); a real value that is a bare `<word>` or `{WORD}` token.
 */
const PLACEHOLDER_PATTERNS: readonly PlaceholderPattern[] = [
  { pattern: /^$/, why: 'empty: the most common form in examples (263 of 664 secret-like keys surveyed)' },
  {
    pattern: /^change[-_ .]?me(?:[-_ .!].*)?$/i,
    why: 'changeme / ChangeMe / change_me / changeme_generate_a_secret (clicepfl/infra, skobkin/docker-stacks, domjtalbot/homelab)',
  },
  { pattern: /^replace[-_ .]?me$/i, why: 'REPLACEME / replace_me (fsr-de/fsr-deployment)' },
  { pattern: /^replace[-_ ](?:with|by|this)(?:[-_ ].*)?$/i, why: 'REPLACE_WITH_RANDOM_SECRET (ivansostarko/docker-configs)' },
  { pattern: /^<[^<>\n]+>$/, why: '<change_me>, <your token>: angle-bracket markers (skobkin/docker-stacks gotosocial)' },
  {
    pattern: /^\{\{?\s*[\p{L}_.][\p{L}\p{N}_.\- ]*\s*\}?\}$/u,
    why: '{PASSDB}, {{ token }}: template tokens replaced by a script (PoppyPop/docker); JSON objects do not match',
  },
  { pattern: /^x{3,}(?:[-_.]x+)*$/i, why: 'xxx, XXXXXXXX, xxxx-xxxx: a row of x standing for characters to fill in' },
  { pattern: /^your[-_ ].+[-_ ]here$/i, why: 'your-cloudflare-api-token-here (domjtalbot/homelab)' },
  { pattern: /^(?:todo|fixme|tbd)$/i, why: 'TODO / FIXME / TBD: a note left instead of a value' },
  { pattern: /^(?:secret|password|passwd)$/i, why: 'the word itself (OIDC_RP_CLIENT_SECRET=secret in fsr-de/fsr-deployment)' },
  { pattern: /^(?:…|\.{3,})$/, why: 'an ellipsis: "fill this in"' },
];

/** True when `value` reads as a stand-in for a secret rather than a real value. See the pattern list. */
export function looksLikePlaceholder(value: string): boolean {
  const trimmed = value.trim();
  return PLACEHOLDER_PATTERNS.some(({ pattern }) => pattern.test(trimmed));
}
