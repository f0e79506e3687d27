# coffre-host: the renderer on a docker host. It reads current values (and key names) and nothing
# else: no writes, no metadata, no listing, no delete/destroy.
# Paths are KV v2 API paths on the mount `secret`. This grants the whole mount; to narrow it to one
# prefix, replace `secret/data/*` by e.g. `secret/data/infra/*` (and the same for subkeys).

# Current values (and older ones via ?version=N).
path "secret/data/*" {
  capabilities = ["read"]
}

# Key names only (what `coffre check` uses when it needs no values).
path "secret/subkeys/*" {
  capabilities = ["read"]
}
