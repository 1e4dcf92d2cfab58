#!/usr/bin/env bash
# Sets up and starts Apex with its embedded defaults: SQLite under ./data, http://localhost:8080.
# Extra arguments go to `apex serve`, e.g. ./run.sh --urls http://0.0.0.0:8080
set -euo pipefail
cd "$(dirname "$0")"
scripts/deps.sh run
if [ -f web/package.json ]; then
  (cd web && npm run build --silent)
fi
dotnet build src/Apex.Server -c Release -nologo -v quiet
exec dotnet src/Apex.Server/bin/Release/net10.0/apex.dll serve "$@"
