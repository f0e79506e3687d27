// Test helpers: the decrypted sops tree as JSON-like data (key order kept, comments dropped), and the
// expected plaintexts and data keys published in test/fixtures/sops-upstream/README.md.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isSopsComment, isSopsList, isSopsMap, JsonInteger, SopsTime, YamlTimestamp, type SopsNode } from '../../src/sops/index.js';
import { fixturesDir } from '../support/tools.js';

export const upstreamDir = path.join(fixturesDir, 'sops-upstream');

/** JSON-like view: maps → objects, lists → arrays, int → number, time → its text; comments left out. */
export function toJsonLike(node: SopsNode): unknown {
  if (isSopsMap(node)) {
    const out: Record<string, unknown> = {};
    for (const item of node.items) if (item.kind === 'entry') out[item.key] = toJsonLike(item.value);
    return out;
  }
  if (isSopsList(node)) return node.items.filter((i) => !isSopsComment(i)).map((i) => toJsonLike(i as SopsNode));
  if (typeof node === 'bigint') return Number(node);
  if (node instanceof JsonInteger) return Number(node.value);
  if (node instanceof YamlTimestamp || node instanceof SopsTime) return node.text;
  if (node instanceof Uint8Array) return Buffer.from(node).toString('utf8');
  return node;
}

export interface ReadmeExpectation {
  file: string;
  dataKey?: string;
  json: string;
}

/** The `### <file>` sections of the fixtures README that carry a JSON block. */
export function readmeExpectations(): Map<string, ReadmeExpectation> {
  const text = readFileSync(path.join(upstreamDir, 'README.md'), 'utf8');
  const out = new Map<string, ReadmeExpectation>();
  const re = /^### (\S+)\n([\s\S]*?)```json\n([\s\S]*?)```/gm;
  for (const m of text.matchAll(re)) {
    const file = m[1] as string;
    const key = /data key ([0-9a-f]{64})/.exec(m[2] as string)?.[1];
    out.set(file, { file, json: m[3] as string, ...(key ? { dataKey: key } : {}) });
  }
  return out;
}
