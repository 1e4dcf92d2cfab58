using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Apex.Bench.Gateway;
using Apex.Hosting;
using Apex.Server;
using Npgsql;
using StackExchange.Redis;

namespace Apex.Bench.Scale;

/// <summary>
/// The gateway benchmark's measurement (burst throughput, latency at a paced load) run twice in one
/// go: one node with the in-memory broker, then two nodes sharing Redis and PostgreSQL with the
/// publisher on one node and half of the sockets on the other. Bounded: a fixed number of
/// connections, rounds and timeouts, loopback only.
/// </summary>
internal static class ScaleOrchestrator
{
    private const int BurstRounds = 50;
    private const int PacedRounds = 20;
    private const int PacedIntervalMs = 200;

    // One machine signs in every benchmark user: the per-IP credential limit would stop it.
    private const string BenchLogins = "Auth:Abuse:PerIpPerMinute=1000000";

    public static async Task<int> RunAsync(int connections)
    {
        var overall = Stopwatch.StartNew();
        var (postgres, redis) = await ServicesAsync();
        var results = new List<Result>();
        Console.Error.WriteLine($"[{overall.Elapsed:mm\\:ss}] memory broker, 1 node, {connections} connections …");
        results.Add(await RunMemoryAsync(connections));
        Console.Error.WriteLine($"[{overall.Elapsed:mm\\:ss}] Redis broker, 2 nodes, {connections} connections …");
        results.Add(await RunRedisAsync(connections, postgres, redis));
        PrintTable(results);
        Console.WriteLine($"Total time: {overall.Elapsed.TotalSeconds:F0} s on {Environment.ProcessorCount} cores, .NET {Environment.Version}.");
        return 0;
    }

    private static async Task<Result> RunMemoryAsync(int connections)
    {
        var dataDir = Directory.CreateTempSubdirectory("apex-bench-scale-").FullName;
        try
        {
            return await MeasureAsync("memory", [[$"Apex:DataDir={dataDir}", BenchLogins]], connections, dataDir);
        }
        finally
        {
            TryDelete(dataDir);
        }
    }

    private static async Task<Result> RunRedisAsync(int connections, string postgres, string redis)
    {
        var dataDir = Directory.CreateTempSubdirectory("apex-bench-scale-").FullName;
        var database = "apex_bench_" + Guid.NewGuid().ToString("N")[..12];
        var prefix = $"apex-bench-{Guid.NewGuid():N}:";
        await ExecuteAsync(postgres, $"CREATE DATABASE \"{database}\"");
        try
        {
            var connectionString = new NpgsqlConnectionStringBuilder(postgres) { Database = database }.ConnectionString;
            // Both nodes share the data directory only for the signing key (scale-out.md: one key for every node).
            string[] shared =
            [
                $"Apex:DataDir={dataDir}",
                "Database:Provider=Postgres",
                $"Database:ConnectionString={connectionString}",
                "Broker:Provider=redis",
                $"Redis:Configuration={redis}",
                $"Redis:KeyPrefix={prefix}",
                BenchLogins,
            ];
            await MigrateAsync(shared);
            return await MeasureAsync("redis", [shared, shared], connections, dataDir);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await ExecuteAsync(postgres, $"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
            await DeleteKeysAsync(redis, prefix);
            TryDelete(dataDir);
        }
    }

    /// <summary>Starts the nodes, connects the clients (spread over the nodes), publishes from the first node.</summary>
    private static async Task<Result> MeasureAsync(string broker, string[][] nodeSettings, int connections, string dataDir)
    {
        var nodes = new List<Child>();
        var clients = new List<Child>();
        try
        {
            var ports = new List<int>();
            for (var i = 0; i < nodeSettings.Length; i++)
            {
                var file = Path.Combine(dataDir, $"node{i}.settings");
                await File.WriteAllLinesAsync(file, nodeSettings[i]);
                var node = Child.Start(["--role", "node", "--settings", file]);
                nodes.Add(node);
                // One after the other: the first node creates the signing key the others read.
                ports.Add(int.Parse((await node.ExpectAsync("READY", TimeSpan.FromSeconds(90)))[1], CultureInfo.InvariantCulture));
            }

            var tokens = await CreateUsersAsync(ports[0], connections);
            var tokensFile = Path.Combine(dataDir, "tokens.txt");
            await File.WriteAllLinesAsync(tokensFile, tokens);
            await nodes[0].SendAsync($"users {tokensFile}");
            await nodes[0].ExpectAsync("OK", TimeSpan.FromSeconds(10));

            // Two client processes per run; with two nodes each client process talks to its own node.
            const int processes = 2;
            var share = connections / processes;
            for (var p = 0; p < processes; p++)
            {
                var slice = Path.Combine(dataDir, $"c{p}.txt");
                await File.WriteAllLinesAsync(slice, tokens.Skip(p * share).Take(share));
                var url = new Uri($"ws://127.0.0.1:{ports[p % ports.Count]}/ws");
                clients.Add(Child.Start(["--role", "client", "--url", url.ToString(), "--bind", $"127.0.0.{p + 2}", "--tokens", slice, "--count", share.ToString(CultureInfo.InvariantCulture)]));
            }

            var connected = 0;
            foreach (var client in clients)
            {
                connected += int.Parse((await client.ExpectAsync("CONNECTED", TimeSpan.FromSeconds(120)))[1], CultureInfo.InvariantCulture);
            }

            await WaitForConnectionsAsync(nodes, connected);

            // Warm-up (JIT, pools, Redis subscriptions), excluded from the numbers.
            await nodes[0].SendAsync("burst 3");
            await nodes[0].ExpectAsync("DONE", TimeSpan.FromSeconds(60));
            await Orchestrator.WaitForDeliveryAsync(clients, (long)connected * 3, TimeSpan.FromSeconds(30));

            await Orchestrator.BroadcastAsync(clients, "reset", "OK");
            await nodes[0].SendAsync($"burst {BurstRounds}");
            var burst = await nodes[0].ExpectAsync("DONE", TimeSpan.FromSeconds(120));
            var start = long.Parse(burst[1], CultureInfo.InvariantCulture);
            var (delivered, last, _, _) = await Orchestrator.WaitForDeliveryAsync(clients, (long)connected * BurstRounds, TimeSpan.FromSeconds(60));
            var throughput = delivered / ((last - start) / (double)Stopwatch.Frequency);

            await Orchestrator.BroadcastAsync(clients, "reset", "OK");
            await nodes[0].SendAsync($"paced {PacedRounds} {PacedIntervalMs}");
            await nodes[0].ExpectAsync("DONE", TimeSpan.FromSeconds(120));
            var (paced, _, closed, histogram) = await Orchestrator.WaitForDeliveryAsync(clients, (long)connected * PacedRounds, TimeSpan.FromSeconds(30));
            return new Result(broker, nodeSettings.Length, connections, connected, delivered, (long)connected * BurstRounds, throughput,
                paced, (long)connected * PacedRounds, histogram.PercentileMilliseconds(50), histogram.PercentileMilliseconds(99), closed);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.SendAsync("quit");
                await client.DisposeAsync();
            }

            foreach (var node in nodes)
            {
                await node.SendAsync("quit");
                await node.WaitForExitAsync(TimeSpan.FromSeconds(15));
                await node.DisposeAsync();
            }
        }
    }

    /// <summary>Applies the PostgreSQL migrations the way <c>apex migrate</c> does.</summary>
    private static async Task MigrateAsync(string[] settings)
    {
        // A fresh database has no history tables yet: EF logs the first look-up as an error, which it is not.
        await using var app = ApexHost.Build([.. settings.Select(s => "--" + s), "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Microsoft.EntityFrameworkCore=None"]);
        await Database.MigrateAllAsync(app.Services, CancellationToken.None);
    }

    private static async Task<List<string>> CreateUsersAsync(int port, int n)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        var lines = new string[n];
        using var gate = new SemaphoreSlim(8);
        await Task.WhenAll(Enumerable.Range(0, n).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                using var response = await http.PostAsJsonAsync(new Uri("/auth/dev/login", UriKind.Relative), new { email = $"scale{i}@example.com" });
                var body = await response.Content.ReadAsStringAsync();
                if (!response.IsSuccessStatusCode)
                {
                    throw new InvalidOperationException($"dev login failed: {(int)response.StatusCode} {body}");
                }

                using var doc = JsonDocument.Parse(body);
                var token = doc.RootElement.GetProperty("access_token").GetString()!;
                var payload = token.Split('.')[1].Replace('-', '+').Replace('_', '/');
                payload = payload.PadRight(payload.Length + ((4 - (payload.Length % 4)) % 4), '=');
                using var claims = JsonDocument.Parse(Convert.FromBase64String(payload));
                lines[i] = $"{claims.RootElement.GetProperty("sub").GetString()} {token}";
            }
            finally
            {
                gate.Release();
            }
        }));
        return [.. lines];
    }

    private static async Task WaitForConnectionsAsync(List<Child> nodes, int expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var open = 0;
            foreach (var node in nodes)
            {
                await node.SendAsync("conns");
                open += int.Parse((await node.ExpectAsync("CONNS", TimeSpan.FromSeconds(10)))[1], CultureInfo.InvariantCulture);
            }

            if (open >= expected)
            {
                return;
            }

            await Task.Delay(200);
        }
    }

    /// <summary>The servers of APEX_TEST_POSTGRES / APEX_TEST_REDIS, else those scripts/services.sh starts.</summary>
    private static async Task<(string Postgres, string Redis)> ServicesAsync()
    {
        var postgres = Environment.GetEnvironmentVariable("APEX_TEST_POSTGRES");
        var redis = Environment.GetEnvironmentVariable("APEX_TEST_REDIS");
        if (!string.IsNullOrEmpty(postgres) && !string.IsNullOrEmpty(redis))
        {
            return (postgres, redis);
        }

        var dir = new DirectoryInfo(Directory.GetCurrentDirectory());
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "scripts", "services.sh")))
        {
            dir = dir.Parent;
        }

        var script = dir is null ? throw new InvalidOperationException("Set APEX_TEST_POSTGRES and APEX_TEST_REDIS, or run from the repository (scripts/services.sh).")
            : Path.Combine(dir.FullName, "scripts", "services.sh");
        await RunAsync(script, "start");
        foreach (var line in (await RunAsync(script, "env")).Split('\n'))
        {
            if (line.StartsWith("APEX__Database__ConnectionString=", StringComparison.Ordinal))
            {
                postgres = line[(line.IndexOf('=', StringComparison.Ordinal) + 1)..];
            }
            else if (line.StartsWith("APEX__Redis__Configuration=", StringComparison.Ordinal))
            {
                redis = line[(line.IndexOf('=', StringComparison.Ordinal) + 1)..];
            }
        }

        return (postgres!, redis!);
    }

    private static async Task<string> RunAsync(string file, string arg)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arg) { RedirectStandardOutput = true, UseShellExecute = false })!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 ? output : throw new InvalidOperationException($"{file} {arg} failed with {process.ExitCode}");
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task DeleteKeysAsync(string configuration, string prefix)
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync(configuration);
        var server = redis.GetServers()[0];
        var db = redis.GetDatabase();
        await foreach (var key in server.KeysAsync(pattern: prefix + "*", pageSize: 1000))
        {
            await db.KeyDeleteAsync(key);
        }
    }

    private static void TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static void PrintTable(List<Result> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine();
        sb.AppendLine("| broker | nodes | connections | delivered/s (burst) | delivered | p50 ms (paced) | p99 ms (paced) | paced delivered | closed early |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Broker} | {r.Nodes} | {r.Connected}/{r.Connections} | {r.Throughput:N0} | {r.Delivered:N0}/{r.Expected:N0} | {r.P50:F2} | {r.P99:F2} | {r.PacedDelivered:N0}/{r.PacedExpected:N0} | {r.Closed} |"));
        }

        var memory = results.Single(r => r.Broker == "memory");
        var redis = results.Single(r => r.Broker == "redis");
        sb.AppendLine();
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Redis, 2 nodes / memory, 1 node: throughput {redis.Throughput / memory.Throughput * 100:F0} % (aim ≥ 50 %), p99 {redis.P99:F1} ms (aim < 50 ms)."));
        Console.WriteLine(sb.ToString());
    }

    private sealed record Result(
        string Broker, int Nodes, int Connections, int Connected, long Delivered, long Expected, double Throughput,
        long PacedDelivered, long PacedExpected, double P50, double P99, int Closed);
}
