// `coffre init`: a first coffre.yaml (commented: the discovered services and targets), the missing .gitignore
// lines for the targets, and, for sops, an age key pair (private key outside the repo, 0600) with a .sops.yaml
// creation rule. Writes nothing that exists (coffre.yaml is never overwritten; the key file is appended to).
// The private key never leaves this module except into the key file.
import { appendFile, chmod, mkdir, open, readFile, realpath, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { CoffreError } from '../errors.js';
import { gitignoreLineFor, targetsNotIgnoredByGitignore } from '../render/git-exposure.js';
import { CONFIG_FILE_NAMES, defaultConfig } from '../repo/config.js';
import { discoverRepo } from '../repo/discover.js';

export interface InitOptions {
  root: string;
  /** Absolute key file path (the caller resolves the default), or null when none can be found. */
  ageKeyFile: string | null;
  dryRun: boolean;
}

export interface InitResult {
  config: string;
  /** Lines appended to `<root>/.gitignore`. */
  gitignore: { file: string; added: string[] };
  /** Present when a key pair and .sops.yaml were (or, dry run, would be) written. */
  sops: { file: string; keyFile: string; recipient: string | null } | null;
  /** Why no .sops.yaml was written, when none was. */
  sopsSkipped?: string;
}

const SOPS_CONFIG_NAMES = ['.sops.yaml', '.sops.yml'];
export const SOPS_PATH_REGEX = '\\.sops\\.(ya?ml|json|env|ini)$';

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

async function isGitWorkTree(root: string): Promise<boolean> {
  for (let dir = root; ; dir = path.dirname(dir)) {
    if (await exists(path.join(dir, '.git'))) return true;
    if (path.dirname(dir) === dir) return false;
  }
}

function isInside(root: string, file: string): boolean {
  const rel = path.relative(root, file);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** `file` with symlinks resolved in its nearest existing ancestor (the file itself may not exist yet). */
async function realPathOf(file: string): Promise<string> {
  let rest = '';
  for (let dir = file; ; dir = path.dirname(dir)) {
    const real = await realpath(dir).catch(() => null);
    if (real !== null) return path.join(real, rest);
    if (path.dirname(dir) === dir) return file;
    rest = path.join(path.basename(dir), rest);
  }
}

export async function runInit(options: InitOptions): Promise<InitResult> {
  const { root, dryRun } = options;
  for (const name of CONFIG_FILE_NAMES) {
    if (await exists(path.join(root, name))) throw new CoffreError('COFFRE_USAGE', `${path.join(root, name)} exists: init writes a first coffre.yaml only, and never overwrites one`);
  }
  const needsKey = !(await Promise.all(SOPS_CONFIG_NAMES.map((name) => exists(path.join(root, name))))).some(Boolean);
  if (needsKey) {
    if (options.ageKeyFile === null) throw new CoffreError('COFFRE_USAGE', 'no place for the age key: set HOME or XDG_CONFIG_HOME, or give --age-key-file PATH');
    const keyPath = path.resolve(options.ageKeyFile);
    if (isInside(root, keyPath) || isInside(await realPathOf(root), await realPathOf(keyPath))) {
      throw new CoffreError('COFFRE_USAGE', `--age-key-file ${options.ageKeyFile} is inside the repo ${root}: the private key must live outside it`);
    }
  }
  const repo = await discoverRepo({ root, config: defaultConfig(), vaultEnabled: false });

  // A per-repo prefix keeps two repos on one OpenBao from sharing `<service>/<name>` paths (check warns without one).
  const prefix = path.basename(root).replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, '') || 'infra';
  const lines = [
    '# coffre.yaml, written by `coffre init`. Every field is optional; see the README for all of them.',
    'version: 1',
    '',
    '# Vault/OpenBao: the per-repo prefix keeps this repo\'s paths (<prefix>/<service>/<name>) apart from other',
    '# repos\' on the same server; it has no effect until an address is set (here or BAO_ADDR).',
    'vault:',
    '  # address: https://bao.example.org',
    `  prefix: ${prefix}`,
    '',
    '# Discovered services and their env_file targets (no entry is needed for them; add overrides here):',
    '# services:',
  ];
  for (const service of repo.services) {
    lines.push(`#   ${service.name}:    # ${service.composeFileRel}`);
    for (const file of service.secretFiles) {
      const rel = path.posix.relative(service.name === '.' ? '' : service.name, file.targetRel) || file.targetRel;
      lines.push(`#     ${rel}:    # target ${file.targetRel}${file.exampleRel ? `, example ${file.exampleRel}` : ', no example'}`);
    }
  }
  if (repo.services.length === 0) lines.push('#   (none found: no folder with a compose file)');
  const configFile = path.join(root, 'coffre.yaml');

  const gitignoreFile = path.join(root, '.gitignore');
  const existingText = await readFile(gitignoreFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  const existing = new Set(existingText.split(/\r?\n/).map((line) => line.trim()));
  const targetRels = [...new Set(repo.services.flatMap((service) => service.secretFiles.map((file) => file.targetRel)))].filter((rel) => !rel.startsWith('../') && !rel.startsWith('/'));
  // In a git work tree, only targets no .gitignore ignores yet (what COFFRE_TARGET_NOT_IGNORED would name).
  const inGit = targetRels.length > 0 && (await isGitWorkTree(root));
  const missing = inGit ? (await targetsNotIgnoredByGitignore(root, targetRels)).map((entry) => entry.rel) : targetRels;
  const added: string[] = [];
  for (const rel of missing) {
    const line = gitignoreLineFor(rel);
    if (!existing.has(line) && !added.includes(line)) added.push(line);
  }

  let sops: InitResult['sops'] = null;
  const sopsFile = path.join(root, '.sops.yaml');
  if (needsKey) {
    const keyFile = path.resolve(options.ageKeyFile as string);
    let recipient: string | null = null;
    if (!dryRun) {
      const identity = await generateIdentity();
      recipient = await identityToRecipient(identity);
      await mkdir(path.dirname(keyFile), { recursive: true, mode: 0o700 });
      const entry = `# created: ${new Date().toISOString()} by coffre init for ${root}\n# public key: ${recipient}\n${identity}\n`;
      const handle = await open(keyFile, 'a', 0o600);
      try {
        const size = (await handle.stat()).size;
        const before = size > 0 ? ((await readFile(keyFile, 'utf8')).endsWith('\n') ? '' : '\n') : '';
        await handle.writeFile(before + entry);
      } finally {
        await handle.close();
      }
      await chmod(keyFile, 0o600);
      await writeFile(
        sopsFile,
        `# Written by \`coffre init\`: new sops files (e.g. \`coffre import --to sops\`) are encrypted to this age key.\ncreation_rules:\n  - path_regex: '${SOPS_PATH_REGEX}'\n    age: ${recipient}\n`,
        { flag: 'wx' },
      );
    }
    sops = { file: sopsFile, keyFile, recipient };
  }

  if (!dryRun) {
    await writeFile(configFile, `${lines.join('\n')}\n`, { flag: 'wx' });
    if (added.length > 0) {
      const sep = existingText === '' || existingText.endsWith('\n') ? '' : '\n';
      await appendFile(gitignoreFile, `${sep}# coffre targets (rendered secrets, never committed)\n${added.join('\n')}\n`);
    }
  }
  return { config: configFile, gitignore: { file: gitignoreFile, added }, sops, ...(needsKey ? {} : { sopsSkipped: 'a .sops.yaml exists' }) };
}
