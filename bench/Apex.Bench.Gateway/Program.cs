using System.Globalization;
using Apex.Bench.Gateway;

// One command runs everything: `dotnet run -c Release --project bench/Apex.Bench.Gateway`.
// The same executable plays the orchestrator, the server (apex or bare) and the client processes.
var options = ParseArgs(args);
switch (options.GetValueOrDefault("role", "orchestrator"))
{
    case "server":
        return await ServerRole.RunAsync(options["kind"], options["data"]);
    case "profile":
        return await ProfileRole.RunAsync(int.Parse(options.GetValueOrDefault("users", "1000"), CultureInfo.InvariantCulture), int.Parse(options.GetValueOrDefault("rounds", "100"), CultureInfo.InvariantCulture));
    case "client":
        return await ClientRole.RunAsync(new Uri(options["url"]), options["bind"], options.GetValueOrDefault("tokens"), options.GetValueOrDefault("auth", "subprotocol"), int.Parse(options["count"], CultureInfo.InvariantCulture));
    default:
        var sizes = options.TryGetValue("connections", out var list)
            ? list.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray()
            : [1_000, 5_000];
        var kinds = options.TryGetValue("servers", out var k) ? k.Split(',') : ["bare", "apex"];
        return await Orchestrator.RunAsync(sizes, kinds);
}

static Dictionary<string, string> ParseArgs(string[] args)
{
    var result = new Dictionary<string, string>(StringComparer.Ordinal);
    for (var i = 0; i + 1 < args.Length; i += 2)
    {
        result[args[i].TrimStart('-')] = args[i + 1];
    }

    return result;
}
