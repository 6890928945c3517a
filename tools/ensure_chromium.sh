#!/usr/bin/env bash
# Make sure Debian's chromium and chromedriver are installed (for the browser check).
#
# Only Debian's packages are used: no test tool ever downloads a browser of its own.
# On a fresh machine (CI runs as root, with no stdin) this installs them with apt.
set -euo pipefail

if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
    exit 0
fi

packages=(chromium chromium-driver fonts-dejavu-core)
if [[ $(id -u) -eq 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "ensure_chromium: /usr/bin/chromium or /usr/bin/chromedriver is missing;" >&2
    echo "  install them as root: apt-get install ${packages[*]}" >&2
    exit 1
fi

echo "ensure_chromium: installing ${packages[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" </dev/null
/usr/bin/chromedriver --version
