using System.Globalization;
using Apex.Bench.Gateway;

// One command runs everything: `dotnet run -c Release --project bench/Apex.Bench.Gateway`.
// The same executable plays the orchestrator, the server (apex or bare) and the client processes.
// `--soak` is a flag (no value): the socket soak of issue 13 instead of the throughput table.
var soak = args.Contains("--soak");
var options = ParseArgs([.. args.Where(a => a != "--soak")]);
switch (options.GetValueOrDefault("role", "orchestrator"))
{
    case "server":
        return await ServerRole.RunAsync(options["kind"], options["data"]);
    case "profile":
        return await ProfileRole.RunAsync(int.Parse(options.GetValueOrDefault("users", "1000"), CultureInfo.InvariantCulture), int.Parse(options.GetValueOrDefault("rounds", "100"), CultureInfo.InvariantCulture));
    case "client":
        return await ClientRole.RunAsync(new Uri(options["url"]), options["bind"], options.GetValueOrDefault("tokens"), options.GetValueOrDefault("auth", "subprotocol"), int.Parse(options["count"], CultureInfo.InvariantCulture));
    case "soak-server":
        return await SoakServerRole.RunAsync(options["data"], Int("heartbeat-seconds"), Int("max-per-user"), Int("token-minutes"));
    case "soak-client":
        return await SoakClientRole.RunAsync(new Uri(options["url"]), options["bind"], options["tokens"], Int("count"), double.Parse(options["rate"], CultureInfo.InvariantCulture), Int("heartbeat-seconds"), Int("slack-seconds"));
    case "orchestrator" when soak:
        return await SoakOrchestrator.RunAsync(options);
    default:
        var sizes = options.TryGetValue("connections", out var list)
            ? list.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray()
            : [1_000, 5_000];
        var kinds = options.TryGetValue("servers", out var k) ? k.Split(',') : ["bare", "apex"];
        return await Orchestrator.RunAsync(sizes, kinds);
}

int Int(string key) => int.Parse(options[key], CultureInfo.InvariantCulture);

static Dictionary<string, string> ParseArgs(string[] args)
{
    var result = new Dictionary<string, string>(StringComparer.Ordinal);
    for (var i = 0; i + 1 < args.Length; i += 2)
    {
        result[args[i].TrimStart('-')] = args[i + 1];
    }

    return result;
}
