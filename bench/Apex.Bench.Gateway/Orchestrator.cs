using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Apex.Bench.Gateway;

/// <summary>Runs each scenario against the bare server and the Apex server and prints the table.</summary>
internal static class Orchestrator
{
    private const int WarmupConnections = 100;
    private const int PacedRounds = 8;
    private const int PacedIntervalMs = 1000;

    // The Apex servers of every scenario share one data directory, so the users (and their tokens,
    // valid for 15 minutes) are created once for the largest scenario.
    private static string? s_apexDataDir;
    private static string? s_tokensFile;
    private static int s_maxConnections;

    public static async Task<int> RunAsync(int[] sizes, string[] kinds)
    {
        var overall = Stopwatch.StartNew();
        s_maxConnections = sizes.Max();
        var results = new List<Result>();
        foreach (var n in sizes)
        {
            foreach (var kind in kinds)
            {
                Console.Error.WriteLine($"[{overall.Elapsed:mm\\:ss}] {kind} with {n} connections …");
                results.Add(await RunScenarioAsync(kind, n));
            }
        }

        if (s_apexDataDir is not null)
        {
            try
            {
                Directory.Delete(s_apexDataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        PrintTable(results);
        Console.WriteLine($"Total time: {overall.Elapsed.TotalSeconds:F0} s on {Environment.ProcessorCount} cores, .NET {Environment.Version}.");
        return 0;
    }

    private static async Task<Result> RunScenarioAsync(string kind, int n)
    {
        var apex = kind.StartsWith("apex", StringComparison.Ordinal);
        var dataDir = apex
            ? s_apexDataDir ??= Directory.CreateTempSubdirectory("apex-bench-").FullName
            : Directory.CreateTempSubdirectory("apex-bench-").FullName;
        var clients = new List<Child>();
        var auth = kind == "apex-header" ? "header" : "subprotocol";
        await using var server = Child.Start(["--role", "server", "--kind", apex ? "apex" : kind, "--data", dataDir]);
        try
        {
            var port = int.Parse((await server.ExpectAsync("READY", TimeSpan.FromSeconds(60)))[1], CultureInfo.InvariantCulture);
            var url = new Uri($"ws://127.0.0.1:{port}/ws");
            string? tokensFile = null;
            if (apex)
            {
                if (s_tokensFile is null)
                {
                    s_tokensFile = Path.Combine(dataDir, "tokens.txt");
                    await File.WriteAllLinesAsync(s_tokensFile, await CreateUsersAsync(port, s_maxConnections));
                }

                tokensFile = Path.Combine(dataDir, $"tokens-{n}.txt");
                await File.WriteAllLinesAsync(tokensFile, (await File.ReadAllLinesAsync(s_tokensFile)).Take(n));
                await server.SendAsync($"users {tokensFile}");
                await server.ExpectAsync("OK", TimeSpan.FromSeconds(10));
            }

            // Warm-up so the baseline excludes JIT and pools that any first connection creates.
            await using (var warm = Child.Start(ClientArgs(url, "127.0.0.2", Slice(tokensFile, 0, WarmupConnections, dataDir, "warm"), auth, WarmupConnections)))
            {
                await warm.ExpectAsync("CONNECTED", TimeSpan.FromSeconds(60));
                await server.SendAsync("burst 30");
                await server.ExpectAsync("DONE", TimeSpan.FromSeconds(60));
                await Task.Delay(500);
                await warm.SendAsync("quit");
                await warm.WaitForExitAsync(TimeSpan.FromSeconds(10));
            }

            await WaitForConnectionsAsync(server, 0);
            var before = await MemoryAsync(server);

            var processes = n <= 1_000 ? 2 : 4;
            var share = n / processes;
            for (var p = 0; p < processes; p++)
            {
                clients.Add(Child.Start(ClientArgs(url, $"127.0.0.{p + 2}", Slice(tokensFile, p * share, share, dataDir, $"c{p}"), auth, share)));
            }

            var connected = 0;
            foreach (var client in clients)
            {
                connected += int.Parse((await client.ExpectAsync("CONNECTED", TimeSpan.FromSeconds(120)))[1], CultureInfo.InvariantCulture);
            }

            await WaitForConnectionsAsync(server, connected);
            await Task.Delay(1000);
            var after = await MemoryAsync(server);
            if (Environment.GetEnvironmentVariable("APEX_BENCH_PAUSE") is { } pause)
            {
                Console.Error.WriteLine($"server pid {server.Id}: pausing {pause} s");
                await Task.Delay(TimeSpan.FromSeconds(int.Parse(pause, CultureInfo.InvariantCulture)));
            }

            // Throughput: every connection gets `rounds` events as fast as the server can push them.
            var rounds = n <= 1_000 ? 100 : 40;
            await BroadcastAsync(clients, "reset", "OK");
            await server.SendAsync($"burst {rounds}");
            var burst = await server.ExpectAsync("DONE", TimeSpan.FromSeconds(120));
            var start = long.Parse(burst[1], CultureInfo.InvariantCulture);
            var publishMs = (long.Parse(burst[2], CultureInfo.InvariantCulture) - start) * 1000.0 / Stopwatch.Frequency;
            var (delivered, last, closedAfterBurst, _) = await WaitForDeliveryAsync(clients, (long)connected * rounds, TimeSpan.FromSeconds(60));
            var throughput = delivered / ((last - start) / (double)Stopwatch.Frequency);

            // Latency at a fixed, moderate load: one event per connection per second.
            await BroadcastAsync(clients, "reset", "OK");
            await server.SendAsync($"paced {PacedRounds} {PacedIntervalMs}");
            await server.ExpectAsync("DONE", TimeSpan.FromSeconds(120));
            var (pacedDelivered, _, closed, histogram) = await WaitForDeliveryAsync(clients, (long)connected * PacedRounds, TimeSpan.FromSeconds(30));

            return new Result(kind, n, connected, delivered, (long)connected * rounds, throughput, publishMs,
                pacedDelivered, (long)connected * PacedRounds, histogram.PercentileMilliseconds(50), histogram.PercentileMilliseconds(99),
                (after.Managed - before.Managed) / (double)Math.Max(1, connected), (after.Private - before.Private) / (double)Math.Max(1, connected), Math.Max(closed, closedAfterBurst));
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.SendAsync("quit");
                await client.DisposeAsync();
            }

            await server.SendAsync("quit");
            await server.WaitForExitAsync(TimeSpan.FromSeconds(15));
            if (!apex)
            {
                try
                {
                    Directory.Delete(dataDir, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }
    }

    private static string[] ClientArgs(Uri url, string bind, string? tokens, string auth, int count)
    {
        var args = new List<string> { "--role", "client", "--url", url.ToString(), "--bind", bind, "--auth", auth, "--count", count.ToString(CultureInfo.InvariantCulture) };
        if (tokens is not null)
        {
            args.AddRange(["--tokens", tokens]);
        }

        return [.. args];
    }

    private static string? Slice(string? tokensFile, int skip, int take, string dir, string name)
    {
        if (tokensFile is null)
        {
            return null;
        }

        var path = Path.Combine(dir, name + ".txt");
        File.WriteAllLines(path, File.ReadAllLines(tokensFile).Skip(skip).Take(take));
        return path;
    }

    /// <summary>Real users through the development login of the real auth code; one user per connection.</summary>
    internal static async Task<List<string>> CreateUsersAsync(int port, int n)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        var lines = new string[n];
        using var gate = new SemaphoreSlim(16);
        await Task.WhenAll(Enumerable.Range(0, n).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                using var response = await http.PostAsJsonAsync(new Uri("/auth/dev/login", UriKind.Relative), new { email = $"bench{i}@example.com" });
                var body = await response.Content.ReadAsStringAsync();
                if (!response.IsSuccessStatusCode)
                {
                    throw new InvalidOperationException($"dev login failed: {(int)response.StatusCode} {body}");
                }

                using var doc = JsonDocument.Parse(body);
                var token = doc.RootElement.GetProperty("access_token").GetString()!;
                lines[i] = $"{SubjectOf(token)} {token}";
            }
            finally
            {
                gate.Release();
            }
        }));
        return [.. lines];
    }

    private static string SubjectOf(string jwt)
    {
        var payload = jwt.Split('.')[1].Replace('-', '+').Replace('_', '/');
        payload = payload.PadRight(payload.Length + ((4 - (payload.Length % 4)) % 4), '=');
        using var doc = JsonDocument.Parse(Convert.FromBase64String(payload));
        return doc.RootElement.GetProperty("sub").GetString()!;
    }

    private static async Task WaitForConnectionsAsync(Child server, int expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            await server.SendAsync("mem");
            var mem = await server.ExpectAsync("MEM", TimeSpan.FromSeconds(30));
            if (int.Parse(mem[4], CultureInfo.InvariantCulture) == expected)
            {
                return;
            }

            await Task.Delay(200);
        }
    }

    private static async Task<(long Managed, long Private)> MemoryAsync(Child server)
    {
        await server.SendAsync("mem");
        var mem = await server.ExpectAsync("MEM", TimeSpan.FromSeconds(30));
        return (long.Parse(mem[1], CultureInfo.InvariantCulture), long.Parse(mem[2], CultureInfo.InvariantCulture));
    }

    internal static async Task BroadcastAsync(List<Child> clients, string command, string reply)
    {
        foreach (var client in clients)
        {
            await client.SendAsync(command);
            await client.ExpectAsync(reply, TimeSpan.FromSeconds(10));
        }
    }

    internal static async Task<(long Delivered, long Last, int Closed, Histogram Histogram)> WaitForDeliveryAsync(List<Child> clients, long expected, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            long delivered = 0, last = 0;
            var closed = 0;
            var histogram = new Histogram();
            foreach (var client in clients)
            {
                await client.SendAsync("report");
                var report = await client.ExpectAsync("REPORT", TimeSpan.FromSeconds(10));
                delivered += long.Parse(report[1], CultureInfo.InvariantCulture);
                last = Math.Max(last, long.Parse(report[2], CultureInfo.InvariantCulture));
                closed += int.Parse(report[3], CultureInfo.InvariantCulture);
                histogram.Merge(report[4]);
            }

            if (delivered >= expected || DateTime.UtcNow > deadline)
            {
                return (delivered, last, closed, histogram);
            }

            await Task.Delay(250);
        }
    }

    private static void PrintTable(List<Result> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine();
        sb.AppendLine("| server | connections | delivered/s (burst) | publish ms | delivered | p50 ms | p99 ms | paced delivered | managed heap / idle conn | private memory / idle conn | closed early |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Kind} | {r.Connected}/{r.Connections} | {r.Throughput:N0} | {r.PublishMs:N0} | {r.Delivered:N0}/{r.Expected:N0} | {r.P50:F2} | {r.P99:F2} | {r.PacedDelivered:N0}/{r.PacedExpected:N0} | {r.ManagedPerConnection / 1024:F1} KiB | {r.PrivatePerConnection / 1024:F1} KiB | {r.Closed} |"));
        }

        sb.AppendLine();
        sb.AppendLine("| connections | apex / bare throughput | apex p99 / bare p99 |");
        sb.AppendLine("|---:|---:|---:|");
        foreach (var group in results.GroupBy(r => r.Connections))
        {
            var bare = group.FirstOrDefault(r => r.Kind == "bare");
            foreach (var apex in group.Where(r => r.Kind != "bare"))
            {
                if (bare is not null)
                {
                    sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {group.Key} ({apex.Kind}) | {apex.Throughput / bare.Throughput * 100:F0} % | {apex.P99 / bare.P99:F2}x |"));
                }
            }
        }

        Console.WriteLine(sb.ToString());
    }

    private sealed record Result(
        string Kind, int Connections, int Connected, long Delivered, long Expected, double Throughput, double PublishMs,
        long PacedDelivered, long PacedExpected, double P50, double P99,
        double ManagedPerConnection, double PrivatePerConnection, int Closed);
}

/// <summary>A child process of this executable, driven by lines on stdin/stdout.</summary>
internal sealed class Child : IAsyncDisposable
{
    private readonly Process _process;

    private Child(Process process) => _process = process;

    public int Id => _process.Id;

    public static Child Start(string[] args)
    {
        var info = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return new Child(Process.Start(info)!);
    }

    public async Task SendAsync(string line)
    {
        if (!_process.HasExited)
        {
            await _process.StandardInput.WriteLineAsync(line);
            await _process.StandardInput.FlushAsync();
        }
    }

    public async Task<string[]> ExpectAsync(string prefix, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            var line = await _process.StandardOutput.ReadLineAsync(cts.Token)
                ?? throw new InvalidOperationException($"child exited while waiting for {prefix}");
            var parts = line.Split(' ');
            if (parts[0] == prefix)
            {
                return parts;
            }
        }
    }

    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await WaitForExitAsync(TimeSpan.FromSeconds(10));
        _process.Dispose();
    }
}
