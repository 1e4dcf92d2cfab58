using System.Globalization;
using Apex.Bench.Gateway;
using Apex.Bench.Scale;

// One command: `dotnet run -c Release --project bench/Apex.Bench.Scale` (starts the private
// PostgreSQL and Redis of scripts/services.sh when APEX_TEST_POSTGRES / APEX_TEST_REDIS are unset).
// The same executable plays the orchestrator, the Apex nodes and the gateway benchmark's clients.
var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 0; i + 1 < args.Length; i += 2)
{
    options[args[i].TrimStart('-')] = args[i + 1];
}

switch (options.GetValueOrDefault("role", "orchestrator"))
{
    case "node":
        return await NodeRole.RunAsync(File.ReadAllLines(options["settings"]));
    case "client":
        return await ClientRole.RunAsync(new Uri(options["url"]), options["bind"], options.GetValueOrDefault("tokens"), options.GetValueOrDefault("auth", "header"), int.Parse(options["count"], CultureInfo.InvariantCulture));
    default:
        var connections = options.TryGetValue("connections", out var n) ? int.Parse(n, CultureInfo.InvariantCulture) : 1_000;
        return await ScaleOrchestrator.RunAsync(connections);
}
