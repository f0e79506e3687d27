// An annotated coffre.yaml showing every setting with its default, for the README and `coffre init`-style
// output. Text only; a test parses it with the real schema so it cannot drift from config.ts.

/** Every coffre.yaml setting, commented, with defaults (the `services:` entries are illustrations). */
export const ANNOTATED_CONFIG_EXAMPLE = `# coffre.yaml — every key is optional; a repo without this file uses the defaults shown here.
version: 1

discovery:
  # A folder holding one of these files is a service (the first one present wins); globs allowed.
  composeFiles: [docker-compose.yml, docker-compose.yaml, compose.yml, compose.yaml]
  # How deep service folders may sit (1 = top-level folders, 0 = the repo root only).
  maxDepth: 3
  # Folders never entered (globs; without "/" a pattern matches a folder name anywhere).
  # Hidden folders and symlinked folders are never entered either.
  exclude: [node_modules, .git]

examples:
  # The example of an env_file target T is the first existing T<suffix>.
  suffixes: [.example, .dist, .sample]
  # Then these, in order, relative to the service folder: {dir} T's folder from the service folder, {base} T's
  # file name, {stem} the name without leading dots (.env → env), {name} the logical name (db.secrets → db),
  # {suffix} each suffix above in turn. A candidate must lie in the service folder or beside T, in the repo.
  patterns: ["{dir}/{stem}{suffix}", "{base}{suffix}", "{dir}/../conf-sample/{base}{suffix}"]

sops:
  # A target T is backed by the first existing sops file T<suffix> beside it, before Vault.
  # Store format from the last extension: yaml/yml, json, env (dotenv), ini; otherwise binary.
  suffixes: [.sops.yaml, .sops.yml, .sops.json, .sops.env, .sops.ini, .sops]
  # An age identity file (relative to the repo root), in addition to SOPS_AGE_KEY_FILE / SOPS_AGE_KEY.
  ageKeyFile: null

vault:
  # null: BAO_ADDR or VAULT_ADDR; with neither, Vault is not used.
  address: null
  # Or a cluster's nodes, in order of preference (address stays null); see "Scaling out" in the README.
  # addresses: [https://bao-1.example.org:8200, https://bao-2.example.org:8200, https://bao-3.example.org:8200]
  # failoverMs: 15000                # with addresses: how long one request may go from node to node
  mount: secret                      # the KV v2 mount
  prefix: ""
  # Path below the mount; empty segments are dropped (empty prefix → <service>/<name>).
  # <service> is the folder path (apps/wiki); <name> the target file name without .secrets/.env (.env → env).
  path: "{prefix}/{service}/{name}"
  namespace: null                    # null: BAO_NAMESPACE or VAULT_NAMESPACE
  tls:                               # for an https address; each null: its BAO_ / VAULT_ variable
    caCert: null                     # PEM CA file trusted instead of the built-in roots (VAULT_CACERT)
    caPath: null                     # a directory of PEM CA files, when no caCert (VAULT_CAPATH)
    clientCert: null                 # client certificate and key, both or neither (VAULT_CLIENT_CERT/_KEY)
    clientKey: null
    serverName: null                 # SNI and certificate name (VAULT_TLS_SERVER_NAME)
  # A request with no answer (timeout, refused, reset) opens a circuit for that address: the run's other reads
  # fail at once with the same error (marked "not sent"), so a dead server costs one timeout, not one per file;
  # coffre serve lets one request probe again 5 s later.
  timeoutMs: 10000                   # per request, overall: connect, headers and body
  concurrency: 8
  auth:
    method: token                    # token from BAO_TOKEN / VAULT_TOKEN
    # method: approle
    # roleIdFile: /etc/coffre/role-id
    # secretIdFile: /etc/coffre/secret-id
    # mount: approle
    # secretIdWrapped: false         # true: the secret-id file holds a response-wrapping token (single use)

render:
  mode: "0600"                       # octal digits; quote it
  owner: null                        # user name or uid; null keeps the writing user
  group: null

# compose:                           # absent: each service folder is a project, or COMPOSE_FILE in the root .env
#   projects:                        # run from the repo root: docker compose -f … [--project-directory] [--env-file]
#     - files: [a/docker-compose.yml, b/docker-compose.yml]
#       projectDirectory: a          # relative paths resolve from here (default: the first file's folder)
#       envFile: .env                # \${VAR} come from this file (default: .env in the project directory)
#   absoluteTargets:                 # an absolute env_file/secret folder that is this folder of the repo
#     /etc/app: host-secrets/app     # (a bind mount); unmapped absolute targets are refused

services:
  mattermost:                        # the folder path relative to the repo root
    skip: false
    render: { mode: "0640", group: docker }
    files:                           # keyed by the env_file path, relative to the service folder
      secrets/db.secrets:
        source: { vault: "secret/chat/db" }        # "<mount>/<path>"; {prefix} {service} {name} allowed
      secrets/smtp.secrets:
        source: { sops: secrets/smtp.enc.yaml }    # relative to the service folder; format: yaml|json|dotenv|ini|binary
      env/pdns.env:
        example: conf-sample/pdns.env.sample       # an example not named <target><suffix>
      config.env:
        skip: true                                 # a committed, non-secret env file

# Per-target policy, keyed by a glob of target paths relative to the repo root; every matching entry applies, in
# order. Key settings override the example's annotations (an upstream example needs no edit).
files: {}
  # "apps/*/.env":
  #   keys:
  #     "MAIL_*": { optional: true }
  #     DEBUG: { allowEmpty: true }
  #     APP_KEY: { generate: "base64url:43" }
  # "apps/wiki/config.env": { skip: true }

warnings:
  # Warnings to leave out of reports (still counted: summary.warningsSilenced); code, path glob, or both.
  ignore: []
  # - { code: EXAMPLE_UNREFERENCED, path: "legacy/**" }
`;
