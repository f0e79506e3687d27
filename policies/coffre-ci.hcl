# coffre-ci: the CI completeness checker. It sees key NAMES and versions, never values:
# `subkeys` returns each key with its value replaced by null, `metadata` gives versions and lists paths.
# Paths are KV v2 API paths on the mount `secret`. This grants the whole mount; to narrow it to one
# prefix, replace `secret/subkeys/*` by e.g. `secret/subkeys/infra/*` (and the same for metadata).

# Key names (values nulled) and the version of each secret.
path "secret/subkeys/*" {
  capabilities = ["read"]
}

# Versions, deletion state, custom_metadata, and listing secret paths.
path "secret/metadata/*" {
  capabilities = ["read", "list"]
}

# Explicit: no value ever reaches CI, even if another policy on the same token grants data/ reads
# (deny always wins over any grant on the same path).
path "secret/data/*" {
  capabilities = ["deny"]
}
