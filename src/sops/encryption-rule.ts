// Which leaves sops encrypts (`shouldBeEncrypted`): the suffix and regex rules of the metadata, with RE2
// patterns translated to JS RegExp where they mean the same, refused where they would not.
import { CoffreError } from '../errors.js';
import type { EncryptionRule } from './metadata.js';

/** Decides per leaf path (its map keys, list indices excluded) whether the value is encrypted. */
export type EncryptionDecider = (path: readonly string[]) => boolean;

/**
 * Translates an RE2 pattern to an equivalent JS RegExp, or throws COFFRE_SOPS_UNSUPPORTED for syntax
 * whose meaning would differ (RE2-only classes and escapes, look-arounds that RE2 itself rejects).
 */
export function re2ToRegExp(pattern: string, file: string): RegExp {
  let source = pattern;
  let flags = '';
  const leading = /^\(\?([imsU]+)\)/.exec(source);
  if (leading) {
    if ((leading[1] as string).includes('U')) throw unsupported(file, 'the RE2 flag U');
    flags = [...new Set(leading[1] as string)].join('');
    source = source.slice(leading[0].length);
  }
  if (/\(\?[=!]|\(\?<[=!]/.test(source)) throw unsupported(file, 'look-around assertions (RE2 rejects them)');
  if (/\(\?[a-zA-Z-]+[):]/.test(source.replace(/\(\?P?<[A-Za-z_]\w*>/g, ''))) throw unsupported(file, 'inline RE2 flags inside the pattern');
  if (/\[\[:|\\[pP][A-Z]|\\Q|\\C/.test(source)) throw unsupported(file, 'RE2-only classes or escapes');
  source = source.replace(/\(\?P<([A-Za-z_]\w*)>/g, '(?<$1>').replace(/\\A/g, '^').replace(/\\z/g, '(?![\\s\\S])');
  try {
    return new RegExp(source, flags);
  } catch {
    throw new CoffreError('COFFRE_SOPS_METADATA', `${file}: the sops encryption regex is invalid`, { file });
  }
}

function unsupported(file: string, what: string): CoffreError {
  return new CoffreError('COFFRE_SOPS_UNSUPPORTED', `${file}: the sops encryption regex uses ${what}`, { file });
}

/** Builds the decider for a file's rule (sops `Tree.shouldBeEncrypted`). */
export function encryptionDecider(rule: EncryptionRule, file: string): EncryptionDecider {
  switch (rule.kind) {
    case 'unencrypted_suffix':
      return (path) => !path.some((key) => key.endsWith(rule.value));
    case 'encrypted_suffix':
      return (path) => path.some((key) => key.endsWith(rule.value));
    case 'unencrypted_regex': {
      const re = re2ToRegExp(rule.value, file);
      return (path) => !path.some((key) => re.test(key));
    }
    case 'encrypted_regex': {
      const re = re2ToRegExp(rule.value, file);
      return (path) => path.some((key) => re.test(key));
    }
    default:
      throw new CoffreError('COFFRE_SOPS_UNSUPPORTED', `${file}: the sops rule ${rule.kind} is not supported by coffre`, { file });
  }
}
