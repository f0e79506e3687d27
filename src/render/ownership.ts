// Resolves configured owner/group names (e.g. group `docker`) to numeric ids, as chown needs them.
// Reads the local account databases (/etc/passwd, /etc/group): the host the files are written on.
import { readFile } from 'node:fs/promises';
import { CoffreError } from '../errors.js';

/** A configured principal: a name, a numeric id, or null for "keep the writing user's". */
export type Principal = string | number | null;

async function lookupId(database: '/etc/passwd' | '/etc/group', name: string): Promise<number | null> {
  let text: string;
  try {
    text = await readFile(database, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name && fields[2] !== undefined && /^\d+$/.test(fields[2])) return Number(fields[2]);
  }
  return null;
}

/** The numeric uid/gid for a configured owner/group; an unknown name is a configuration error. */
export async function resolvePrincipal(kind: 'owner' | 'group', value: Principal): Promise<number | null> {
  if (value === null) return null;
  if (typeof value === 'number') return value;
  if (/^\d+$/.test(value)) return Number(value);
  const id = await lookupId(kind === 'owner' ? '/etc/passwd' : '/etc/group', value);
  if (id === null) throw new CoffreError('COFFRE_CONFIG_INVALID', `render.${kind} "${value}" is not a known ${kind === 'owner' ? 'user' : 'group'} on this host`);
  return id;
}
