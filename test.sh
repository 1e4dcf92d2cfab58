#!/usr/bin/env bash
# Runs the whole Apex test suite: the web app's unit tests, then every .NET test project against a
# real Kestrel server, a real SQLite file, Debian's Chromium, and private PostgreSQL and Redis
# servers started by scripts/services.sh (the scale-out suites use them through APEX_TEST_* variables).
set -euo pipefail
cd "$(dirname "$0")"
scripts/deps.sh test

# Private PostgreSQL and Redis for the scale-out suites.
scripts/services.sh start >/dev/null
while IFS='=' read -r key value; do
  case "$key" in
    APEX__Database__ConnectionString) export APEX_TEST_POSTGRES="$value" ;;
    APEX__Redis__Configuration) export APEX_TEST_REDIS="$value" ;;
  esac
done < <(scripts/services.sh env)

if [ -f web/package.json ]; then
  (cd web && npm run build --silent && npm test --silent)
fi

log=$(mktemp)
status=0
dotnet test Apex.slnx -c Release -nologo 2>&1 | tee "$log" || status=$?

# The server-side suites once more on PostgreSQL (a fresh database per test server): every route and
# the gateway against the scale-out database too. The browser, agent and CLI suites run on SQLite only,
# which keeps the whole run within CI's time budget.
for suite in Auth Chat Realtime; do
  APEX_TEST_DATABASE=postgres dotnet test "tests/Apex.$suite.Tests" -c Release --no-build -nologo 2>&1 | tee -a "$log" || status=$?
done

# The real-time soak, short version (bench/Apex.Bench.Soak, docs/benchmarks.md): 10 users with 3 sockets
# each run 5 agent runs while the sockets drop and resume and the node restarts halfway, on SQLite
# (one node) and on PostgreSQL + Redis (two nodes); it exits non-zero on any violation. The soak's
# clients share the process with the servers, so the thread pool minimum is raised (--min-threads).
# `dotnet test` builds the test projects only: the soak command is built here.
soak=passed
dotnet build bench/Apex.Bench.Soak -c Release -nologo -v q >/dev/null || soak=failed
if [ "$soak" = failed ] || ! timeout 300 dotnet run --no-build -c Release --project bench/Apex.Bench.Soak -- \
  --mode both --users 10 --tabs 3 --runs 5 --min-threads 64 --max-seconds 150; then
  soak=failed
  status=1
fi

# One plain closing line for the whole .NET suite.
awk '/^(Passed|Failed)!/ { for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
echo "soak: $soak"
rm -f "$log"
exit $status
