using System.Globalization;
using Apex.Bench.Soak;

// Soak of the real-time path: N users with several WebSocket tabs each run M agent runs while the
// tabs drop at random (half with a close frame, half without) and resume, and one node restarts
// halfway. Every delivery guarantee of docs/spec/realtime-protocol.md is checked at the end; any
// violation makes the exit code 1. Loopback only, bounded in time, stops by itself.
//
//   dotnet run -c Release --project bench/Apex.Bench.Soak -- [--mode sqlite|cluster|both] [--users 10]
//       [--tabs 3] [--runs 5] [--threads 2] [--max-seconds 300] [--seed 1] [--min-threads 0]
//
// The clients and the servers share this process and its thread pool. --min-threads N raises the pool's
// minimum (ThreadPool.SetMinThreads) so that blocking work (SQLite's synchronous I/O and lock waits)
// cannot delay the clients' or the gateway's work while the pool grows; 0 keeps the runtime's default.
//
// `cluster` (PostgreSQL + Redis, two nodes) needs APEX_TEST_POSTGRES and APEX_TEST_REDIS, as test.sh
// sets them from scripts/services.sh.
var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 0; i + 1 < args.Length; i += 2)
{
    options[args[i].TrimStart('-')] = args[i + 1];
}

int Int(string name, int fallback) =>
    options.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

var mode = options.GetValueOrDefault("mode", "both");
var settings = new SoakSettings(
    Users: Int("users", 10),
    Tabs: Int("tabs", 3),
    RunsPerUser: Int("runs", 5),
    ThreadsPerUser: Int("threads", 2),
    MaxSeconds: Int("max-seconds", 300),
    Seed: Int("seed", 1));
if (settings.Users < 1 || settings.Tabs < 1 || settings.RunsPerUser < 1 || settings.ThreadsPerUser is < 1 or > 3 || settings.MaxSeconds < 10)
{
    await Console.Error.WriteLineAsync("users, tabs and runs must be >= 1, threads 1..3 (the per-user run cap), max-seconds >= 10.");
    return 2;
}

var scenarios = mode switch
{
    "sqlite" => new[] { Scenario.Sqlite },
    "cluster" => [Scenario.Cluster],
    "both" => [Scenario.Sqlite, Scenario.Cluster],
    _ => [],
};
if (scenarios.Length == 0)
{
    await Console.Error.WriteLineAsync($"Unknown --mode {mode}: sqlite, cluster or both.");
    return 2;
}

var minThreads = Int("min-threads", 0);
if (minThreads > 0)
{
    ThreadPool.GetMinThreads(out _, out var io);
    ThreadPool.SetMinThreads(minThreads, Math.Max(io, minThreads));
}

var results = new List<SoakResult>();
foreach (var scenario in scenarios)
{
    if (scenario == Scenario.Cluster && (Environment.GetEnvironmentVariable("APEX_TEST_POSTGRES") is not { Length: > 0 }
                                         || Environment.GetEnvironmentVariable("APEX_TEST_REDIS") is not { Length: > 0 }))
    {
        await Console.Error.WriteLineAsync("cluster: APEX_TEST_POSTGRES and APEX_TEST_REDIS must name PostgreSQL and Redis (scripts/services.sh env prints them).");
        return 2;
    }

    Console.WriteLine($"soak {scenario.ToString().ToLowerInvariant()}: {settings.Users} users x {settings.Tabs} sockets, {settings.RunsPerUser} runs each ({settings.Users * settings.RunsPerUser} runs), {settings.ThreadsPerUser} threads per user, thread pool minimum {(minThreads > 0 ? minThreads.ToString(CultureInfo.InvariantCulture) : "default")}");
    results.Add(await SoakRunner.RunAsync(scenario, settings));
}

SoakReport.Print(results);
return results.All(r => r.Violations == 0) ? 0 : 1;
