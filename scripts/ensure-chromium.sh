#!/usr/bin/env bash
# Headless Chromium and its WebDriver for the browser test, from Debian packages.
# Idempotent: does nothing when both binaries are already there, so `make test` can always call it.
# Exit status: 0 ready; 1 an install was possible but failed; 2 this machine cannot install them
# (no apt-get, or neither root nor password-less sudo), where the browser test skips.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver

if [[ -x $CHROMIUM && -x $CHROMEDRIVER ]]; then
    exit 0
fi

cannot() {
    echo "ensure-chromium: $*; install the Debian packages 'chromium' and 'chromium-driver'" \
        "by hand, or the browser test skips" >&2
    exit 2
}

failed() {
    echo "ensure-chromium: $*" >&2
    exit 1
}

command -v apt-get >/dev/null || cannot "no apt-get here (not Debian or Ubuntu)"

if [[ $(id -u) -eq 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    cannot "not root and no password-less sudo for apt-get"
fi

echo "ensure-chromium: installing chromium and chromium-driver with apt-get" >&2
"${as_root[@]}" apt-get update -qq || failed "apt-get update failed"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium chromium-driver || failed "apt-get install chromium chromium-driver failed"

[[ -x $CHROMIUM && -x $CHROMEDRIVER ]] || failed "apt-get finished but $CHROMIUM or $CHROMEDRIVER is missing"
echo "ensure-chromium: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM installed")" >&2
