#!/usr/bin/env bash
# CI's last step: start the built `apex serve` with its embedded defaults (a temporary data directory,
# a free loopback port), run `apex verify --register-probe` against it, print the Markdown report,
# stop the server, and exit with verify's exit code (0 pass, 1 degraded or fail, 2 usage or connection).
# Reports stay in artifacts/verify/ (worklog.md, report.json, report.xml).
set -uo pipefail
cd "$(dirname "$0")/.."

config=${APEX_VERIFY_CONFIGURATION:-Release}
dll="src/Apex.Server/bin/$config/net10.0/apex.dll"
# Incremental: nearly free right after the test suite built the same configuration.
dotnet build src/Apex.Server -c "$config" -nologo -v quiet >/dev/null || { echo "building apex failed" >&2; exit 2; }

out=artifacts/verify
mkdir -p "$out"
data=$(mktemp -d -t apex-verify-data.XXXXXX)
log="$out/server.log"
server=""

cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$data"
}
trap cleanup EXIT

# Port 0: Kestrel picks a free port and logs it; no race with another process for a guessed one.
dotnet "$dll" serve --urls http://127.0.0.1:0 "--Apex:DataDir=$data" >"$log" 2>&1 &
server=$!

url=""
for _ in $(seq 1 300); do
  url=$(sed -n 's/.*Now listening on: \(http:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$log" | head -n 1)
  [ -n "$url" ] && break
  if ! kill -0 "$server" 2>/dev/null; then
    echo "apex serve exited before listening:" >&2
    tail -n 40 "$log" >&2
    exit 2
  fi
  sleep 0.2
done
if [ -z "$url" ]; then
  echo "apex serve did not report a listening address within 60 s:" >&2
  tail -n 40 "$log" >&2
  exit 2
fi

echo "apex verify against $url"
dotnet "$dll" verify --base-url "$url" --register-probe \
  --report "$out/worklog.md" --json "$out/report.json" --junit "$out/report.xml"
status=$?

echo
if [ -f "$out/worklog.md" ]; then
  cat "$out/worklog.md"
fi
if [ "$status" -ne 0 ]; then
  echo
  echo "server log (last 40 lines):"
  tail -n 40 "$log"
fi
exit "$status"
