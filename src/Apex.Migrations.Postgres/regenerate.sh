#!/usr/bin/env bash
# Regenerates the PostgreSQL migrations from the current models (one "Initial" per context while
# Apex has no deployed PostgreSQL schema to upgrade; add a named migration instead once it has).
#   src/Apex.Migrations.Postgres/regenerate.sh            replace Initial
#   src/Apex.Migrations.Postgres/regenerate.sh AddThing   add a migration named AddThing
set -euo pipefail
cd "$(dirname "$0")/../.."
name=${1:-Initial}
project=src/Apex.Migrations.Postgres
contexts="Auth:AuthDbContext Chat:ChatDbContext Datasets:DatasetsDbContext"
dotnet tool restore >/dev/null
if [ "$name" = Initial ]; then
  for pair in $contexts; do rm -rf "${project:?}/${pair%%:*}"; done
fi
dotnet build "$project" -nologo -v q >/dev/null
for pair in $contexts; do
  dir=${pair%%:*}; context=${pair#*:}
  dotnet dotnet-ef migrations add "$name" --no-build --project "$project" --startup-project "$project" \
    --context "$context" --output-dir "$dir" >/dev/null
  echo "generated $name for $context in $project/$dir"
done
