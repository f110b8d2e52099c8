#!/usr/bin/env bash
# checkov in its own virtual environment, .venv-checkov, installed from infra/checkov/requirements.lock.
# checkov depends on bc-python-hcl2, which installs the same importable `hcl2` module as the
# python-hcl2 in .venv (the Terraform tests parse with it): the two must never share a venv.
# Idempotent: does nothing when .venv-checkov was installed from the current lock, so tests and
# make can always call it. Prints the checkov executable's path on success.
# Exit status: 0 ready; 1 an install was possible but failed; 2 this machine cannot install it
# (no Python 3 with venv, or the package registry cannot be reached), where the checkov test skips.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOCK=$ROOT/infra/checkov/requirements.lock
VENV=${CHECKOV_VENV:-$ROOT/.venv-checkov}
PYTHON=${PYTHON:-python3}
STAMP=$VENV/.installed-from-lock

cannot() {
    echo "ensure-checkov: $*; checkov cannot be installed here, so the checkov test skips" >&2
    exit 2
}

failed() {
    echo "ensure-checkov: $*" >&2
    exit 1
}

[[ -f $LOCK ]] || failed "no lock at $LOCK"
want=$(sha256sum "$LOCK" | cut -d' ' -f1)
if [[ -x $VENV/bin/checkov && -f $STAMP && $(cat "$STAMP") == "$want" ]]; then
    echo "$VENV/bin/checkov"
    exit 0
fi

command -v "$PYTHON" >/dev/null || cannot "no $PYTHON on PATH"
"$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || cannot "$PYTHON has no venv/ensurepip module"

echo "ensure-checkov: installing checkov into $VENV from ${LOCK#"$ROOT"/}" >&2
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV" || failed "$PYTHON -m venv $VENV failed"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# --no-deps: the lock is complete, so nothing outside it may come in.
if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
        -r "$LOCK" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    rm -rf "$VENV"
    if grep -qE 'NewConnectionError|Name or service not known|Temporary failure in name resolution|Network is unreachable|ConnectTimeout|ProxyError|Failed to establish a new connection' "$log"; then
        cannot "the package registry cannot be reached"
    fi
    failed "pip install -r ${LOCK#"$ROOT"/} failed"
fi
"$VENV/bin/checkov" --version >/dev/null 2>&1 || failed "checkov installed but does not start"
echo "$want" >"$STAMP"
echo "$VENV/bin/checkov"
