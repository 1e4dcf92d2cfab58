using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Apex.Bench.Gateway;

/// <summary>
/// The socket soak of issue 13: one real <c>apex</c> host holds N authenticated sockets for M
/// minutes with the protocol's heartbeats and a trickle of events, sampled every 30 s (managed
/// heap, RSS, open files, threads, CPU); exits 0 only when every socket was held to the end with no
/// missed heartbeat, no close and no lost event.
/// </summary>
internal static class SoakOrchestrator
{
    // A client process keeps well below the ephemeral ports of its source address and its own open-files limit.
    private const int MaxSocketsPerClientProcess = 3_800;

    // Files the server holds besides its sockets (runtime, SQLite, key store, pipes, epoll): about
    // 150 measured at idle; the check leaves room for more.
    private const int ServerFileHeadroom = 400;

    private static readonly List<int> s_children = [];

    public static async Task<int> RunAsync(IReadOnlyDictionary<string, string> options)
    {
        var settings = Settings.From(options);
        var (softFiles, hardFiles) = OpenFilesLimit();
        var (portLow, portHigh) = EphemeralPorts();
        var processes = settings.Processes ?? Math.Max(2, (settings.Connections + MaxSocketsPerClientProcess - 1) / MaxSocketsPerClientProcess);
        var shares = Enumerable.Range(0, processes).Select(p => (settings.Connections / processes) + (p < settings.Connections % processes ? 1 : 0)).ToArray();
        var users = (settings.Connections + settings.SocketsPerUser - 1) / settings.SocketsPerUser;
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"limits: open files {softFiles} soft / {hardFiles} hard per process; ephemeral ports {portLow}-{portHigh} ({portHigh - portLow + 1} per source address); {processes} client processes x {shares.Max()} sockets on 127.0.0.2-127.0.0.{processes + 1}; {users} users, {settings.SocketsPerUser} socket(s) each"));
        if (settings.Connections + ServerFileHeadroom > softFiles)
        {
            Console.WriteLine($"FAILED: {settings.Connections} sockets plus ~{ServerFileHeadroom} other files exceed the server's open-files limit {softFiles}.");
            return 2;
        }

        if (shares.Max() > portHigh - portLow + 1 || shares.Max() + ServerFileHeadroom > softFiles)
        {
            Console.WriteLine($"FAILED: {shares.Max()} sockets per client process exceed its source address's ports or its open-files limit; pass a larger --processes.");
            return 2;
        }

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, _ => KillChildren());
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => KillChildren());
        var dataDir = Directory.CreateTempSubdirectory("apex-soak19k-").FullName;
        var samples = new List<Sample>();
        var clients = new List<Child>();
        Child? server = null;
        var summary = new Summary { Target = settings.Connections };
        string? failure = null;
        try
        {
            server = Track(Child.Start([
                "--role", "soak-server", "--data", dataDir,
                "--heartbeat-seconds", settings.HeartbeatSeconds.ToString(CultureInfo.InvariantCulture),
                "--max-per-user", Math.Max(Apex.Realtime.Gateway.GatewayOptions.DefaultMaxConnectionsPerUser, settings.SocketsPerUser).ToString(CultureInfo.InvariantCulture),
                "--token-minutes", ((int)Math.Ceiling(settings.Minutes) + 60).ToString(CultureInfo.InvariantCulture)]));
            var port = int.Parse((await server.ExpectAsync("READY", TimeSpan.FromSeconds(120)))[1], CultureInfo.InvariantCulture);
            var url = new Uri($"ws://127.0.0.1:{port}/ws");

            var login = Stopwatch.StartNew();
            var logins = await Orchestrator.CreateUsersAsync(port, users);
            summary.LoginSeconds = login.Elapsed.TotalSeconds;
            Console.Error.WriteLine($"{users} users signed in through the development login in {summary.LoginSeconds:F0} s");
            var sockets = Enumerable.Range(0, settings.Connections).Select(i => logins[i % users]).ToArray();
            var socketsFile = Path.Combine(dataDir, "sockets.txt");
            await File.WriteAllLinesAsync(socketsFile, sockets);
            await server.SendAsync($"users {socketsFile}");
            await server.ExpectAsync("OK", TimeSpan.FromSeconds(30));

            var proc = new ProcSampler(server.Id);
            samples.Add(await SampleAsync("before ramp", server, [], proc));

            var ramp = Stopwatch.StartNew();
            var offset = 0;
            for (var p = 0; p < processes; p++)
            {
                var slice = Path.Combine(dataDir, $"client{p}.txt");
                await File.WriteAllLinesAsync(slice, sockets.Skip(offset).Take(shares[p]));
                offset += shares[p];
                clients.Add(Track(Child.Start([
                    "--role", "soak-client", "--url", url.ToString(), "--bind", $"127.0.0.{p + 2}", "--tokens", slice,
                    "--count", shares[p].ToString(CultureInfo.InvariantCulture),
                    "--rate", (settings.RampPerSecond / processes).ToString(CultureInfo.InvariantCulture),
                    "--heartbeat-seconds", settings.HeartbeatSeconds.ToString(CultureInfo.InvariantCulture),
                    "--slack-seconds", settings.SlackSeconds.ToString(CultureInfo.InvariantCulture)])));
            }

            var rampTimeout = TimeSpan.FromSeconds((shares.Max() / (settings.RampPerSecond / processes)) + 120);
            foreach (var client in clients)
            {
                var connected = await client.ExpectAsync("CONNECTED", rampTimeout);
                summary.Connected += int.Parse(connected[1], CultureInfo.InvariantCulture);
                summary.ConnectFailures += int.Parse(connected[2], CultureInfo.InvariantCulture);
            }

            summary.RampSeconds = ramp.Elapsed.TotalSeconds;
            Console.Error.WriteLine($"ramp: {summary.Connected} connected, {summary.ConnectFailures} failed, in {summary.RampSeconds:F1} s");
            await WaitForServerSocketsAsync(server, summary.Connected);

            await server.SendAsync(string.Create(CultureInfo.InvariantCulture, $"trickle {settings.EventsPerSecond}"));
            await server.ExpectAsync("OK", TimeSpan.FromSeconds(10));
            var soak = Stopwatch.StartNew();
            samples.Add(await SampleAsync("00:00", server, clients, proc));
            var duration = TimeSpan.FromMinutes(settings.Minutes);
            while (soak.Elapsed < duration)
            {
                var next = TimeSpan.FromSeconds(settings.SampleSeconds * (samples.Count - 1));
                var wait = (next < duration ? next : duration) - soak.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait);
                }

                var sample = await SampleAsync($"{soak.Elapsed:mm\\:ss}", server, clients, proc);
                samples.Add(sample);
                Console.Error.WriteLine(sample.Progress());
            }

            summary.SoakSeconds = soak.Elapsed.TotalSeconds;
            var publishedFile = Path.Combine(dataDir, "published.txt");
            await server.SendAsync($"stop {publishedFile}");
            var stopped = await server.ExpectAsync("STOPPED", TimeSpan.FromSeconds(60));
            summary.Published = long.Parse(stopped[1], CultureInfo.InvariantCulture);
            summary.PublishFailures = long.Parse(stopped[2], CultureInfo.InvariantCulture);

            // The last events are still on their way: wait (bounded) until every socket has its due.
            var deadline = Stopwatch.StartNew();
            ClientTotals final;
            do
            {
                final = await ClientTotals.CollectAsync(clients, $"final {publishedFile}");
                if (final.Lost == 0)
                {
                    break;
                }

                await Task.Delay(500);
            }
            while (deadline.Elapsed < TimeSpan.FromSeconds(30));

            summary.Final = final;
            var last = await SampleAsync("end (after the delivery check)", server, clients, proc);
            samples.Add(last);
            summary.ServerSockets = last.ServerSockets;
            summary.PeakFiles = proc.PeakFiles;
            summary.PeakRssMb = samples.Max(s => s.RssMb);
            summary.ServerCloses = last.ServerCloses;
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException or IOException or FormatException or HttpRequestException)
        {
            failure = $"the soak stopped early: {ex.GetType().Name}: {ex.Message}";
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.SendAsync("quit");
                await client.DisposeAsync();
            }

            if (server is not null)
            {
                await server.SendAsync("quit");
                await server.WaitForExitAsync(TimeSpan.FromSeconds(30));
                await server.DisposeAsync();
            }

            try
            {
                Directory.Delete(dataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        summary.Failure = failure;
        summary.OpenFilesLimit = softFiles;
        Print(settings, samples, summary);
        var reasons = summary.Reasons().ToList();
        if (reasons.Count == 0)
        {
            Console.WriteLine("PASS: every socket held to the end, no missed heartbeat, no close, no lost event.");
            return 0;
        }

        Console.WriteLine("FAIL: " + string.Join("; ", reasons));
        return 1;
    }

    private static Child Track(Child child)
    {
        lock (s_children)
        {
            s_children.Add(child.Id);
        }

        return child;
    }

    /// <summary>Ctrl+C or a timeout's SIGTERM: the children must not outlive the soak.</summary>
    private static void KillChildren()
    {
        lock (s_children)
        {
            foreach (var id in s_children)
            {
                try
                {
                    using var process = Process.GetProcessById(id);
                    process.Kill(entireProcessTree: true);
                }
                catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
                {
                    // Already gone.
                }
            }
        }
    }

    private static async Task WaitForServerSocketsAsync(Child server, int expected)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            await server.SendAsync("stats");
            var stats = await server.ExpectAsync("STATS", TimeSpan.FromSeconds(60));
            if (long.Parse(stats[2], CultureInfo.InvariantCulture) >= expected)
            {
                return;
            }

            await Task.Delay(500);
        }
    }

    private static async Task<Sample> SampleAsync(string label, Child server, List<Child> clients, ProcSampler proc)
    {
        await server.SendAsync("stats");
        var stats = await server.ExpectAsync("STATS", TimeSpan.FromSeconds(60));
        var os = proc.Read();
        var totals = clients.Count == 0 ? null : await ClientTotals.CollectAsync(clients, "report");
        return new Sample(
            label,
            long.Parse(stats[2], CultureInfo.InvariantCulture),
            totals?.Open ?? 0,
            long.Parse(stats[1], CultureInfo.InvariantCulture) / 1048576.0,
            os.RssMb,
            os.Files,
            os.Threads,
            os.CpuPercent,
            double.Parse(stats[3], CultureInfo.InvariantCulture),
            LoadAverage(),
            totals?.Heartbeats ?? 0,
            totals?.Missed ?? 0,
            totals?.Closes ?? 0,
            totals?.Received ?? 0,
            stats[5]);
    }

    private static void Print(Settings settings, List<Sample> samples, Summary s)
    {
        var sb = new StringBuilder();
        sb.AppendLine();
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Socket soak: {s.Target:N0} sockets, {settings.Minutes:0.#} min, heartbeat every {settings.HeartbeatSeconds} s (missed = no frame for more than {settings.HeartbeatSeconds + settings.SlackSeconds} s), trickle {settings.EventsPerSecond:0.#} events/s, ramp {settings.RampPerSecond:0.#} sockets/s, {Environment.ProcessorCount} cores, .NET {Environment.Version}."));
        sb.AppendLine();
        sb.AppendLine("| time | sockets open (server / clients) | managed heap MB | RSS MB | fds | threads | CPU % | GC pause ms (total) | load 1 min | heartbeats received | missed heartbeats | closes | events received |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var x in samples)
        {
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {x.Label} | {x.ServerSockets:N0} / {x.ClientOpen:N0} | {x.HeapMb:F1} | {x.RssMb:F0} | {x.Files:N0} | {x.Threads} | {x.CpuPercent:F0} | {x.GcPauseMs:N0} | {x.Load} | {x.Heartbeats:N0} | {x.Missed} | {x.Closes} | {x.Received:N0} |"));
        }

        var f = s.Final;
        sb.AppendLine();
        sb.AppendLine("| measure | value |");
        sb.AppendLine("|---|---|");
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| sockets held / target | {f?.Open ?? 0:N0} / {s.Target:N0} (server counts {s.ServerSockets:N0}; connect failures {s.ConnectFailures}) |"));
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| users (development login) | {(s.Target + settings.SocketsPerUser - 1) / settings.SocketsPerUser:N0} in {s.LoginSeconds:F0} s, {settings.SocketsPerUser} socket(s) each |"));
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| ramp | {s.Connected:N0} sockets in {s.RampSeconds:F1} s |"));
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| duration held | {s.SoakSeconds / 60:F1} min |"));
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| heartbeats received / expected (least owed) | {f?.Heartbeats ?? 0:N0} / {f?.Expected ?? 0:N0}; heartbeat_ack sent {f?.Acks ?? 0:N0} |"));
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| missed heartbeats | {f?.Missed ?? 0} (longest silence on any socket {(f?.MaxSilenceMs ?? 0) / 1000.0:F1} s) |"));
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| closes (client side, by code) | {f?.Closes ?? 0} ({f?.CloseCodes ?? "-"}); close frames sent by the server: {s.ServerCloses} |"));
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| events delivered / due (published) | {(f is null ? 0 : f.Received - f.Duplicated):N0} / {f?.ExpectedEvents ?? 0:N0} ({s.Published:N0} published, {s.PublishFailures} publish failures) |"));
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| lost / duplicated or out of order / seq gaps | {f?.Lost ?? 0} / {f?.Duplicated ?? 0} / {f?.Gaps ?? 0} |"));
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| trickle latency p50 / p99 | {f?.Latency.PercentileMilliseconds(50) ?? 0:F1} ms / {f?.Latency.PercentileMilliseconds(99) ?? 0:F1} ms |"));
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| server peak open files / limit | {s.PeakFiles:N0} / {s.OpenFilesLimit:N0} |"));
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| server peak RSS | {s.PeakRssMb:F0} MB |"));
        Console.WriteLine(sb.ToString());
    }

    private static (long Soft, long Hard) OpenFilesLimit()
    {
        var line = File.ReadLines("/proc/self/limits").First(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        var parts = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return (ParseLimit(parts[0]), ParseLimit(parts[1]));

        static long ParseLimit(string s) => s == "unlimited" ? long.MaxValue : long.Parse(s, CultureInfo.InvariantCulture);
    }

    private static (int Low, int High) EphemeralPorts()
    {
        var parts = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        return (int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture));
    }

    private static string LoadAverage() => File.ReadAllText("/proc/loadavg").Split(' ')[0];

    private sealed record Settings(int Connections, double Minutes, int HeartbeatSeconds, int SlackSeconds, double RampPerSecond, double EventsPerSecond, int SocketsPerUser, int? Processes, int SampleSeconds)
    {
        public static Settings From(IReadOnlyDictionary<string, string> o) => new(
            Int(o, "connections", 19_000),
            double.Parse(o.GetValueOrDefault("minutes", "10"), CultureInfo.InvariantCulture),
            Int(o, "heartbeat-seconds", 20),
            Int(o, "slack-seconds", 10),
            double.Parse(o.GetValueOrDefault("ramp", "500"), CultureInfo.InvariantCulture),
            double.Parse(o.GetValueOrDefault("events-per-second", "50"), CultureInfo.InvariantCulture),
            Int(o, "sockets-per-user", 1),
            o.ContainsKey("processes") ? Int(o, "processes", 0) : null,
            Int(o, "sample-seconds", 30));

        private static int Int(IReadOnlyDictionary<string, string> o, string key, int fallback) =>
            o.TryGetValue(key, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
    }

    private sealed record Sample(
        string Label, long ServerSockets, long ClientOpen, double HeapMb, double RssMb, int Files, int Threads, double CpuPercent,
        double GcPauseMs, string Load, long Heartbeats, long Missed, long Closes, long Received, string ServerCloses)
    {
        public string Progress() => string.Create(CultureInfo.InvariantCulture,
            $"[{Label}] sockets {ServerSockets}/{ClientOpen} heap {HeapMb:F0} MB rss {RssMb:F0} MB fds {Files} threads {Threads} cpu {CpuPercent:F0}% load {Load} heartbeats {Heartbeats} missed {Missed} closes {Closes} events {Received}");
    }

    private sealed class Summary
    {
        public int Target { get; init; }

        public int Connected { get; set; }

        public int ConnectFailures { get; set; }

        public double LoginSeconds { get; set; }

        public double RampSeconds { get; set; }

        public double SoakSeconds { get; set; }

        public long Published { get; set; }

        public long PublishFailures { get; set; }

        public long ServerSockets { get; set; }

        public int PeakFiles { get; set; }

        public double PeakRssMb { get; set; }

        public long OpenFilesLimit { get; set; }

        public string ServerCloses { get; set; } = "-";

        public ClientTotals? Final { get; set; }

        public string? Failure { get; set; }

        public IEnumerable<string> Reasons()
        {
            if (Failure is not null)
            {
                yield return Failure;
            }

            if (Final is null)
            {
                yield break;
            }

            if (Final.Open != Target)
            {
                yield return $"{Final.Open} of {Target} sockets held ({ConnectFailures} failed to connect, {Final.Closes} closed)";
            }

            if (Final.Missed > 0)
            {
                yield return $"{Final.Missed} missed heartbeats";
            }

            if (Final.Closes > 0)
            {
                yield return $"{Final.Closes} closes ({Final.CloseCodes})";
            }

            if (Final.Lost > 0 || Final.Duplicated > 0 || PublishFailures > 0)
            {
                yield return $"{Final.Lost} events lost, {Final.Duplicated} duplicated or out of order, {PublishFailures} publish failures";
            }
        }
    }

    /// <summary>The clients' REPORT lines added up.</summary>
    private sealed class ClientTotals
    {
        public long Open { get; private set; }

        public long Heartbeats { get; private set; }

        public long Expected { get; private set; }

        public long Acks { get; private set; }

        public long Missed { get; private set; }

        public long MaxSilenceMs { get; private set; }

        public long Closes { get; private set; }

        public string CloseCodes { get; private set; } = "-";

        public long Received { get; private set; }

        public long Duplicated { get; private set; }

        public long Gaps { get; private set; }

        public long ExpectedEvents { get; private set; }

        public long Lost { get; private set; }

        public Histogram Latency { get; } = new();

        public static async Task<ClientTotals> CollectAsync(List<Child> clients, string command)
        {
            var totals = new ClientTotals();
            var codes = new SortedDictionary<string, long>(StringComparer.Ordinal);
            foreach (var client in clients)
            {
                await client.SendAsync(command);
                var r = await client.ExpectAsync("REPORT", TimeSpan.FromSeconds(60));
                long L(int i) => long.Parse(r[i], CultureInfo.InvariantCulture);
                totals.Open += L(1);
                totals.Heartbeats += L(2);
                totals.Expected += L(3);
                totals.Acks += L(4);
                totals.Missed += L(5);
                totals.MaxSilenceMs = Math.Max(totals.MaxSilenceMs, L(6));
                if (r[7] != "-")
                {
                    foreach (var pair in r[7].Split(','))
                    {
                        var kv = pair.Split('=');
                        var n = long.Parse(kv[1], CultureInfo.InvariantCulture);
                        codes[kv[0]] = codes.GetValueOrDefault(kv[0]) + n;
                        totals.Closes += n;
                    }
                }

                totals.Received += L(8);
                totals.Duplicated += L(9);
                totals.Gaps += L(10);
                totals.ExpectedEvents += L(11);
                totals.Lost += L(12);
                totals.Latency.Merge(r[13]);
            }

            totals.CloseCodes = codes.Count == 0 ? "-" : string.Join(", ", codes.Select(c => $"{c.Key}: {c.Value}"));
            return totals;
        }
    }

    /// <summary>The server process as the kernel sees it: RSS, open files, threads, CPU since the last read.</summary>
    private sealed class ProcSampler(int pid)
    {
        private readonly long _ticksPerSecond = 100;
        private long _lastCpuTicks = -1;
        private long _lastWall;

        public int PeakFiles { get; private set; }

        public (double RssMb, int Files, int Threads, double CpuPercent) Read()
        {
            double rss = 0;
            var threads = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    rss = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
                }
                else if (line.StartsWith("Threads:", StringComparison.Ordinal))
                {
                    threads = int.Parse(line.Split('\t', ' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
                }
            }

            var files = Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").Count();
            PeakFiles = Math.Max(PeakFiles, files);

            // Fields 14 and 15 of /proc/<pid>/stat (after the command name in parentheses): user and system time in clock ticks.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var cpu = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            var wall = Stopwatch.GetTimestamp();
            var percent = _lastCpuTicks < 0 ? 0 : (cpu - _lastCpuTicks) / (double)_ticksPerSecond / ((wall - _lastWall) / (double)Stopwatch.Frequency) * 100;
            _lastCpuTicks = cpu;
            _lastWall = wall;
            return (rss, files, threads, percent);
        }
    }
}
