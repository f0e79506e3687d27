# coffre-admin: the rotator. It writes new versions (check-and-set is enforced by the mount's or the
# key's `cas_required`, not by policy), reads and lists metadata, soft-deletes and undeletes versions.
# It cannot destroy versions: destruction is irreversible and stays with a human holding another policy.
# Paths are KV v2 API paths on the mount `secret`. This grants the whole mount; to narrow it to one
# prefix, replace each `secret/<segment>/*` by e.g. `secret/<segment>/infra/*`.

# Write new versions (create: first version; update: later ones) and read them back.
path "secret/data/*" {
  capabilities = ["create", "update", "read"]
}

# Key names without values (used by check before a rotation).
path "secret/subkeys/*" {
  capabilities = ["read"]
}

# current_version for check-and-set, version history, listing; update for max_versions/cas_required.
path "secret/metadata/*" {
  capabilities = ["read", "list", "update"]
}

# Soft-delete and undelete versions (reversible).
path "secret/delete/*" {
  capabilities = ["update"]
}
path "secret/undelete/*" {
  capabilities = ["update"]
}

# Verify cas_required on the mount.
path "secret/config" {
  capabilities = ["read"]
}

# No "secret/destroy/*": destroying versions is irreversible and left out on purpose.
