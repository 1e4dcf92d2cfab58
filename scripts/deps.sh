#!/usr/bin/env bash
# Installs what Apex needs on a Debian machine that has the .NET SDK, only where it is missing.
#   scripts/deps.sh run    Node.js/npm and the web app's packages (enough to build and serve Apex)
#   scripts/deps.sh test   the above plus Chromium (browser tests), PostgreSQL and Redis (scale-out suites)
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

command -v dotnet >/dev/null || { echo "The .NET SDK 10 is required (dotnet not found)." >&2; exit 1; }

packages=()
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
if [ "${1:-run}" = test ]; then
  [ -x /usr/bin/chromium ] || packages+=(chromium)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || packages+=(postgresql)
  command -v redis-server >/dev/null || packages+=(redis-server)
fi
if [ ${#packages[@]} -gt 0 ]; then
  echo "installing: ${packages[*]}"
  as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${packages[@]}" >/dev/null
fi

dotnet tool restore >/dev/null
if [ -f web/package-lock.json ]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ "${1:-run}" = test ]; then
  # The OpenID Connect provider the provider sign-in tests run on loopback.
  (cd tests/Apex.Auth.Tests/oidc-idp && npm ci --no-audit --no-fund --loglevel=error)
fi
