// The in-process floor of bench/sops-scale: what decrypting every sops file of a repo costs with nothing but
// node:crypto, the `yaml` package's plain parse and ONE age identity parsed once, on every core (one worker
// thread per core, each with its own share of the files). Per file: read, YAML parse, age armor + header
// (X25519 share, HKDF, ChaCha20-Poly1305 stanza, header HMAC, STREAM payload) to the data key, AES-256-GCM
// per value with its path AAD, the SHA-512 MAC over the plaintexts compared with the decrypted stored MAC.
// Every value is sent back to the main thread (as coffre hands values to its caller). No coffre code.
// Run: `node dist/bench/sops-floor.js <repo root>` with SOPS_AGE_KEY set (FLOOR_PARSER=coffre: coffre's YAML
// reader instead of the `yaml` package); prints one JSON line. Not a test.
import { createDecipheriv, createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, hkdfSync, timingSafeEqual, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { bech32 } from '@scure/base';
import { parse } from 'yaml';

const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

/** Every `*.sops.yaml` under `<root>/<service>/secrets/` (the generated repo's layout). */
export function listSopsFiles(root: string): string[] {
  const files: string[] = [];
  for (const service of readdirSync(root).sort()) {
    const dir = path.join(root, service, 'secrets');
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names.sort()) if (name.endsWith('.sops.yaml')) files.push(path.join(dir, name));
  }
  return files;
}

interface Identity {
  key: KeyObject;
  recipient: Buffer;
}

function parseIdentity(text: string): Identity {
  const { bytes } = bech32.decodeToBytes(text.trim().toLowerCase());
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, bytes]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return { key, recipient: spki.subarray(spki.length - 32) };
}

function chacha(key: Uint8Array, nonce: Uint8Array, sealed: Buffer): Buffer {
  const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]);
}

/** The data key of an armored age file addressed to `id` (single-chunk payload: a 32-byte sops key). */
function unwrap(armored: string, id: Identity): Buffer {
  const lines = armored.trim().split('\n');
  const bin = Buffer.from(lines.slice(1, -1).join(''), 'base64');
  const text = bin.toString('latin1');
  const headerEnd = text.indexOf('\n--- ');
  const macEnd = text.indexOf('\n', headerEnd + 1);
  const header = text.slice(0, headerEnd).split('\n');
  const stanza = header.findIndex((l) => l.startsWith('-> X25519 '));
  if (stanza < 0) throw new Error('no X25519 stanza');
  const share = Buffer.from((header[stanza] as string).slice(10), 'base64');
  const body = Buffer.from(header[stanza + 1] as string, 'base64');
  const ephemeral = createPublicKey({ key: Buffer.concat([SPKI_X25519_PREFIX, share]), format: 'der', type: 'spki' });
  const shared = diffieHellman({ privateKey: id.key, publicKey: ephemeral });
  const wrapKey = Buffer.from(hkdfSync('sha256', shared, Buffer.concat([share, id.recipient]), 'age-encryption.org/v1/X25519', 32));
  const fileKey = chacha(wrapKey, Buffer.alloc(12), body);
  const macKey = Buffer.from(hkdfSync('sha256', fileKey, Buffer.alloc(0), 'header', 32));
  const mac = createHmac('sha256', macKey).update(bin.subarray(0, headerEnd + 4)).digest();
  if (!timingSafeEqual(mac, Buffer.from(text.slice(headerEnd + 5, macEnd), 'base64'))) throw new Error('age header MAC');
  const payload = bin.subarray(macEnd + 1);
  const streamKey = Buffer.from(hkdfSync('sha256', fileKey, payload.subarray(0, 16), 'payload', 32));
  const nonce = Buffer.alloc(12);
  nonce[11] = 1;
  return chacha(streamKey, nonce, payload.subarray(16));
}

/** `ENC[AES256_GCM,data:…,iv:…,tag:…,type:str]` opened with `key` and `aad`. */
function open(enc: string, key: Buffer, aad: string): Buffer {
  const parts = enc.slice(4, -1).split(',');
  const field = (i: number): Buffer => Buffer.from((parts[i] as string).slice((parts[i] as string).indexOf(':') + 1), 'base64');
  const d = createDecipheriv('aes-256-gcm', key, field(2), { authTagLength: 16 });
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(field(3));
  return Buffer.concat([d.update(field(1)), d.final()]);
}

type ParsedSops = Record<string, unknown> & { sops: { age: Array<{ enc: string }>; mac: string; lastmodified: string } };

/**
 * The YAML parse: the `yaml` package's plain parse (default), or with FLOOR_PARSER=coffre coffre's own sops
 * YAML reader (its line-by-line fast path for this layout), the one piece of coffre the floor may use.
 */
let parseSops: (text: string, file: string) => ParsedSops = (text) => parse(text) as ParsedSops;
if (process.env.FLOOR_PARSER === 'coffre') {
  const { readYamlStore } = await import('../src/sops/yaml-store.js');
  parseSops = (text, file) => {
    const content = readYamlStore(text, file);
    const doc: Record<string, unknown> = {};
    for (const item of content.branches[0]?.items ?? []) if (item.kind === 'entry') doc[item.key] = item.value;
    return { ...doc, sops: content.metadata as ParsedSops['sops'] };
  };
}

function decryptFile(file: string, id: Identity): Array<[string, string]> {
  const doc = parseSops(readFileSync(file, 'utf8'), file);
  const key = unwrap(doc.sops.age[0]!.enc, id);
  const hash = createHash('sha512');
  const values: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(doc)) {
    if (name === 'sops') continue;
    const plain = open(value as string, key, `${name}:`);
    hash.update(plain);
    values.push([name, plain.toString('utf8')]);
  }
  const stored = open(doc.sops.mac, key, doc.sops.lastmodified).toString('utf8');
  if (stored !== hash.digest('hex').toUpperCase()) throw new Error(`${file}: MAC mismatch`);
  return values;
}

if (!isMainThread) {
  const { files, identity } = workerData as { files: string[]; identity: string };
  const id = parseIdentity(identity);
  parentPort!.postMessage(files.map((file) => [file, decryptFile(file, id)]));
} else if (process.argv[2] !== undefined) {
  const start = performance.now();
  const files = listSopsFiles(process.argv[2]);
  const cores = Number(process.env.FLOOR_THREADS ?? os.availableParallelism());
  const shares = Array.from({ length: cores }, (_, i) => files.filter((_, j) => j % cores === i));
  const results = await Promise.all(
    shares.map(
      (share) =>
        new Promise<Array<[string, Array<[string, string]>]>>((resolve, reject) => {
          const worker = new Worker(new URL(import.meta.url), { workerData: { files: share, identity: process.env.SOPS_AGE_KEY ?? '' } });
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    ),
  );
  const values = results.flat().reduce((n, [, v]) => n + v.length, 0);
  process.stdout.write(`${JSON.stringify({ files: files.length, values, threads: cores, parser: process.env.FLOOR_PARSER ?? 'yaml', inProcessMs: Math.round(performance.now() - start) })}\n`);
}
