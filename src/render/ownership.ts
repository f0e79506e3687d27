// Resolves configured owner/group names (e.g. group `docker`) to numeric ids, as chown needs them.
// Reads the local account databases (/etc/passwd, /etc/group): the host the files are written on.
import { readFileSync } from 'node:fs';
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

/**
 * True when user `uid` belongs to group `gid` on this host: as its primary group (/etc/passwd) or as a listed
 * member (/etc/group). Root (uid 0) counts as a member of every group. An unknown uid belongs to none.
 */
export async function isGroupMember(uid: number, gid: number): Promise<boolean> {
  if (uid === 0) return true;
  const [passwd, group] = await Promise.all([readFile('/etc/passwd', 'utf8').catch(() => ''), readFile('/etc/group', 'utf8').catch(() => '')]);
  const user = passwd.split('\n').map((line) => line.split(':')).find((fields) => fields[2] === String(uid));
  if (user === undefined || user[0] === undefined) return false;
  if (user[3] === String(gid)) return true;
  const entry = group.split('\n').map((line) => line.split(':')).find((fields) => fields[2] === String(gid));
  return entry?.[3]?.split(',').includes(user[0]) ?? false;
}

/** The local name of a uid/gid (`alice`, `docker`), or the number itself when it has none. */
export async function idName(kind: 'uid' | 'gid', id: number): Promise<string> {
  return nameIn(await readFile(databaseOf(kind), 'utf8').catch(() => ''), id);
}

/** `uid 1001 (alice)` / `gid 998 (docker)`: an id with its local name when it has one, for messages. */
export async function describeId(kind: 'uid' | 'gid', id: number): Promise<string> {
  return described(kind, id, await idName(kind, id));
}

/** {@link describeId} for synchronous callers (error messages of the lock operations). */
export function describeIdSync(kind: 'uid' | 'gid', id: number): string {
  let text = '';
  try {
    text = readFileSync(databaseOf(kind), 'utf8');
  } catch {
    // no account database: the number alone
  }
  return described(kind, id, nameIn(text, id));
}

const databaseOf = (kind: 'uid' | 'gid') => (kind === 'uid' ? '/etc/passwd' : '/etc/group');
const nameIn = (database: string, id: number): string =>
  database.split('\n').map((line) => line.split(':')).find((fields) => fields[2] === String(id))?.[0] || String(id);
const described = (kind: 'uid' | 'gid', id: number, name: string): string => (name === String(id) ? `${kind} ${id}` : `${kind} ${id} (${name})`);
