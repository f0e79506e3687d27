// What an example-looking file (`<stem><example suffix>`) is a template of, so that only env-file examples no
// target uses are reported as unreferenced. Name rules only, first match wins; no I/O. Add a kind by adding a rule.

/**
 * `env`: an env file example (`*.env`, `*.secrets`, `.env*`, `env`, anything in a `secrets/` folder);
 * `config-template`: an application config file (`config.php.dist`, `nginx.conf.sample`, `settings.json.example`),
 * even in a `secrets/` folder; `other`: anything else (not reported either).
 */
export type ExampleKind = 'env' | 'config-template' | 'other';

/** One classification rule: the kind of a stem (file name without the example suffix) in a folder, or null. */
export type ExampleKindRule = (stem: string, relDir: readonly string[]) => ExampleKind | null;

/** File extensions of application config files: their templates are not env examples. */
const CONFIG_EXTENSIONS = /\.(php|conf|cnf|cfg|config|ini|toml|ya?ml|json|jsonc|xml|properties|js|mjs|cjs|ts|py|rb|lua|sh|htaccess|htpasswd|tmpl|tpl|j2|template)$/i;

/** In order; the first rule that answers decides. */
export const EXAMPLE_KIND_RULES: ExampleKindRule[] = [
  (stem) => (/\.(secrets|env)$/.test(stem) || stem === '.env' || stem === 'env' || stem.startsWith('.env.') ? 'env' : null),
  (stem) => (CONFIG_EXTENSIONS.test(stem) ? 'config-template' : null),
  (_stem, relDir) => (relDir.includes('secrets') ? 'env' : null),
];

/** The kind of an example stem found in `relDir` (the folder relative to the service folder). */
export function classifyExample(stem: string, relDir: string, rules: readonly ExampleKindRule[] = EXAMPLE_KIND_RULES): ExampleKind {
  const parts = relDir.split(/[\\/]/);
  for (const rule of rules) {
    const kind = rule(stem, parts);
    if (kind !== null) return kind;
  }
  return 'other';
}
