using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Apex.Bench.Soak;

internal sealed record SoakSettings(int Users, int Tabs, int RunsPerUser, int ThreadsPerUser, int MaxSeconds, int Seed);

/// <summary>Counts of one soak; every <c>Violation</c> also keeps its first few descriptions.</summary>
internal sealed class SoakCounters
{
    public long Frames;
    public long Connections;
    public long ConnectFailures;
    public long Closes;
    public long Aborts;
    public long Recovered;
    public long Unrecovered;
    public long Refetches;
    public long RunsStarted;
    public long RunsEnded;
    public long Duplicates;
    public long Gaps;
    public long Lost;
    public long OutOfOrder;
    public long Misrouted;
    public long TerminalWrong;
    public long StoredMismatch;
    public long Disagreements;
    public long SlowCloses;
    public long SlowClosesStalled;
    public long UnansweredCloses;
    public long ErrorFrames;
    public long Unfinished;
    private readonly ConcurrentQueue<string> _examples = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    /// <summary>Seconds since the soak started, for the log lines.</summary>
    public string Now => $"{_clock.Elapsed.TotalSeconds:N1}s";
    private readonly ConcurrentQueue<double> _closeMs = new();

    public IEnumerable<string> Examples => _examples;

    public static void Add(ref long counter) => Interlocked.Increment(ref counter);

    public void Violation(ref long counter, string what)
    {
        Interlocked.Increment(ref counter);
        if (_examples.Count < 20)
        {
            _examples.Enqueue($"[{Now}] {what}");
        }
    }

    /// <summary>Counted and shown, but not a violation.</summary>
    public void Note(ref long counter, string what)
    {
        Interlocked.Increment(ref counter);
        if (_examples.Count < 20)
        {
            _examples.Enqueue($"[{Now}] note: {what}");
        }
    }

    public void RecordClose(TimeSpan elapsed) => _closeMs.Enqueue(elapsed.TotalMilliseconds);

    public (double P50, double P99, double Max) CloseTimes()
    {
        var all = _closeMs.Order().ToArray();
        return all.Length == 0 ? (0, 0, 0) : (all[all.Length / 2], all[Math.Min(all.Length - 1, (int)(all.Length * 0.99))], all[^1]);
    }
}

internal sealed record SoakResult(Scenario Scenario, SoakSettings Settings, SoakCounters Counters, TimeSpan Elapsed, int Nodes, long Violations);

/// <summary>A signed-in user of the soak: its threads, its runs, its tabs.</summary>
internal sealed class SoakUser(int index, string id, string token, HttpClient http)
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _runs = new(StringComparer.Ordinal);

    public int Index => index;
    public string Id => id;
    public string Token => token;
    public List<string> Threads { get; } = [];
    public List<Tab> Tabs { get; } = [];

    public static bool IsTerminal(JsonElement frame) =>
        frame.GetProperty("type").GetString() is "agent_completed" or "agent_error"
        && frame.TryGetProperty("payload", out var payload) && payload.ValueKind == JsonValueKind.Object
        && payload.TryGetProperty("final", out var final) && final.ValueKind == JsonValueKind.True;

    public ICollection<string> KnownRuns() => _runs.Keys.ToArray();

    public void RunEnded(string runId) => Waiter(runId).TrySetResult();

    public TaskCompletionSource Waiter(string runId) =>
        _runs.GetOrAdd(runId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        using (request)
        {
            return await http.SendAsync(request, ct);
        }
    }

    public HttpRequestMessage Request(HttpMethod method, Uri address, string path, object? body = null)
    {
        var request = new HttpRequestMessage(method, new Uri(address, path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        return request;
    }

    /// <summary>GET on any running node, retried while nodes restart.</summary>
    public async Task<JsonElement> GetAsync(string path, Nodes nodes, Random random, CancellationToken ct)
    {
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            var address = nodes.Pick(random);
            if (address is not null)
            {
                try
                {
                    using var response = await SendAsync(Request(HttpMethod.Get, address, path), ct);
                    if (response.IsSuccessStatusCode)
                    {
                        return (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).Clone();
                    }

                    if (response.StatusCode == HttpStatusCode.NotFound)
                    {
                        return default;
                    }
                }
                catch (HttpRequestException)
                {
                }
            }

            await Task.Delay(100, ct);
        }
    }

    /// <summary>Every stored event of a run (GET /api/runs/{id}/events, all pages), raw JSON in order; null for a run that is not this user's.</summary>
    public async Task<List<string>?> FetchEventsAsync(string runId, Nodes nodes, Random random, CancellationToken ct)
    {
        var events = new List<string>();
        string? cursor = null;
        do
        {
            var page = await GetAsync($"/api/runs/{runId}/events?limit=200" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)), nodes, random, ct);
            if (page.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            events.AddRange(page.GetProperty("items").EnumerateArray().Select(e => e.GetRawText()));
            cursor = page.TryGetProperty("next_cursor", out var next) && next.ValueKind == JsonValueKind.String ? next.GetString() : null;
        }
        while (cursor is not null);
        return events;
    }

    /// <summary>Run ids of every message in this user's threads (what a client reloading state sees).</summary>
    public async Task<HashSet<string>> ListRunsAsync(Nodes nodes, Random random, CancellationToken ct)
    {
        var runs = new HashSet<string>(KnownRuns(), StringComparer.Ordinal);
        foreach (var thread in Threads)
        {
            string? cursor = null;
            do
            {
                var page = await GetAsync($"/api/threads/{thread}/messages?limit=200" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)), nodes, random, ct);
                foreach (var message in page.GetProperty("items").EnumerateArray())
                {
                    if (message.TryGetProperty("run_id", out var run) && run.GetString() is { } r)
                    {
                        runs.Add(r);
                    }
                }

                cursor = page.TryGetProperty("next_cursor", out var next) && next.ValueKind == JsonValueKind.String ? next.GetString() : null;
            }
            while (cursor is not null);
        }

        return runs;
    }
}

internal static class SoakRunner
{
    private const string Question =
        "We send about 2 million requests a month to gpt-4o, 1,500 input and 400 output tokens each. Where can we cut cost?";

    public static async Task<SoakResult> RunAsync(Scenario scenario, SoakSettings settings)
    {
        var counters = new SoakCounters();
        var watch = Stopwatch.StartNew();
        using var hardStop = new CancellationTokenSource(TimeSpan.FromSeconds(settings.MaxSeconds));
        using var drops = new CancellationTokenSource();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        await using var nodes = await Nodes.StartAsync(scenario);
        var random = new Random(settings.Seed);
        using var stalls = new StallMonitor();
        var users = new List<SoakUser>();
        for (var i = 0; i < settings.Users; i++)
        {
            users.Add(await SignInAsync(i, scenario, nodes, http, random, settings, hardStop.Token));
        }

        foreach (var user in users)
        {
            for (var t = 0; t < settings.Tabs; t++)
            {
                user.Tabs.Add(new Tab(user, t, nodes, counters, stalls, random.Next()));
            }
        }

        var tabs = users.SelectMany(u => u.Tabs.Select(t => t.RunAsync(drops.Token, hardStop.Token))).ToList();
        var total = settings.Users * settings.RunsPerUser;
        var restart = RestartHalfwayAsync(nodes, counters, total, hardStop.Token);
        var drivers = users.SelectMany(u => Enumerable.Range(0, settings.ThreadsPerUser).Select(t =>
            DriveThreadAsync(u, u.Threads[t], RunsFor(settings, t), nodes, counters, new Random(random.Next()), hardStop.Token))).ToList();
        try
        {
            await Task.WhenAll(drivers);
            await restart;
        }
        catch (OperationCanceledException)
        {
            counters.Violation(ref counters.Unfinished, $"not finished within {settings.MaxSeconds} s: {counters.RunsEnded} of {total} runs ended");
        }

        // Every run has ended: tabs stop dropping, catch up once and close.
        await drops.CancelAsync();
        await Task.WhenAll(tabs);
        if (!hardStop.IsCancellationRequested)
        {
            await VerifyAsync(users, nodes, counters, random, hardStop.Token);
        }

        watch.Stop();
        var c = counters;
        var violations = c.Duplicates + c.Gaps + c.Lost + c.OutOfOrder + c.Misrouted + c.TerminalWrong + c.StoredMismatch
                         + c.Disagreements + c.SlowCloses + c.UnansweredCloses + c.ErrorFrames + c.Unfinished;
        foreach (var example in c.Examples)
        {
            Console.WriteLine("  " + (example.Contains("] note: ", StringComparison.Ordinal) ? "" : "violation: ") + example);
        }

        return new SoakResult(scenario, settings, counters, watch.Elapsed, nodes.Count, violations);
    }

    private static int RunsFor(SoakSettings settings, int thread) =>
        (settings.RunsPerUser / settings.ThreadsPerUser) + (thread < settings.RunsPerUser % settings.ThreadsPerUser ? 1 : 0);

    private static async Task<SoakUser> SignInAsync(int index, Scenario scenario, Nodes nodes, HttpClient http, Random random, SoakSettings settings, CancellationToken ct)
    {
        var address = nodes.Pick(random)!;
        using var response = await http.PostAsJsonAsync(new Uri(address, "/auth/dev/login"),
            new { email = $"soak-{scenario.ToString().ToLowerInvariant()}-{index}-{Guid.NewGuid():N}@example.com" }, ct);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
        var token = body.GetProperty("access_token").GetString()!;
        var payload = token.Split('.')[1].Replace('-', '+').Replace('_', '/');
        payload = payload.PadRight(payload.Length + ((4 - (payload.Length % 4)) % 4), '=');
        using var claims = JsonDocument.Parse(Convert.FromBase64String(payload));
        var user = new SoakUser(index, claims.RootElement.GetProperty("sub").GetString()!, token, http);
        for (var t = 0; t < settings.ThreadsPerUser; t++)
        {
            using var created = await user.SendAsync(user.Request(HttpMethod.Post, address, "/api/threads", new { title = $"soak {t}" }), ct);
            created.EnsureSuccessStatusCode();
            user.Threads.Add((await created.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("id").GetString()!);
        }

        return user;
    }

    /// <summary>Runs on one thread one after the other (one active run per thread), each until its terminal event.</summary>
    private static async Task DriveThreadAsync(SoakUser user, string thread, int runs, Nodes nodes, SoakCounters counters, Random random, CancellationToken ct)
    {
        for (var i = 0; i < runs; i++)
        {
            var runId = await PostMessageAsync(user, thread, $"{Question} (run {i})", nodes, random, ct);
            SoakCounters.Add(ref counters.RunsStarted);
            await WaitForEndAsync(user, runId, nodes, random, ct);
            SoakCounters.Add(ref counters.RunsEnded);
        }
    }

    private static async Task<string> PostMessageAsync(SoakUser user, string thread, string content, Nodes nodes, Random random, CancellationToken ct)
    {
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            var address = nodes.Pick(random);
            if (address is not null)
            {
                try
                {
                    using var response = await user.SendAsync(user.Request(HttpMethod.Post, address, $"/api/threads/{thread}/messages", new { content }), ct);
                    if (response.StatusCode == HttpStatusCode.Accepted)
                    {
                        var body = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
                        var runId = body.GetProperty("run").GetProperty("id").GetString()!;
                        user.Waiter(runId);
                        return runId;
                    }

                    if (response.StatusCode == HttpStatusCode.Conflict)
                    {
                        // A run whose 202 was lost in a node restart still holds the thread: wait for it.
                        var runs = await user.ListRunsAsync(nodes, random, ct);
                        foreach (var run in runs)
                        {
                            user.Waiter(run);
                        }
                    }
                }
                catch (HttpRequestException)
                {
                }
            }

            await Task.Delay(200, ct);
        }
    }

    private static async Task WaitForEndAsync(SoakUser user, string runId, Nodes nodes, Random random, CancellationToken ct)
    {
        var waiter = user.Waiter(runId).Task;
        while (true)
        {
            if (await Task.WhenAny(waiter, Task.Delay(TimeSpan.FromSeconds(2), ct)) == waiter)
            {
                return;
            }

            // No tab saw the end yet (all of them may be between connections): ask the server.
            var run = await user.GetAsync($"/api/runs/{runId}", nodes, random, ct);
            if (run.ValueKind == JsonValueKind.Object && run.GetProperty("status").GetString() is "completed" or "failed" or "cancelled")
            {
                return;
            }
        }
    }

    private static async Task RestartHalfwayAsync(Nodes nodes, SoakCounters counters, int total, CancellationToken ct)
    {
        while (Interlocked.Read(ref counters.RunsEnded) < total / 2)
        {
            await Task.Delay(50, ct);
        }

        var index = nodes.Count - 1;
        Console.WriteLine($"  [{counters.Now}] restarting node {index + 1} of {nodes.Count} after {counters.RunsEnded} of {total} runs");
        await nodes.RestartAsync(index);
        Console.WriteLine($"  [{counters.Now}] node {index + 1} is up again");
    }

    /// <summary>What every tab holds against what the server stored, run by run.</summary>
    private static async Task VerifyAsync(List<SoakUser> users, Nodes nodes, SoakCounters counters, Random random, CancellationToken ct)
    {
        foreach (var user in users)
        {
            var runs = await user.ListRunsAsync(nodes, random, ct);
            var threads = new HashSet<string>(user.Threads, StringComparer.Ordinal);
            foreach (var tab in user.Tabs)
            {
                foreach (var thread in tab.ThreadsNamed.Where(t => !threads.Contains(t)))
                {
                    counters.Violation(ref counters.Misrouted, $"user {user.Index} tab {tab.Index}: a frame names thread {thread}, not this user's");
                }

                runs.UnionWith(tab.RunsNamed);
            }

            foreach (var runId in runs)
            {
                var stored = await user.FetchEventsAsync(runId, nodes, random, ct);
                if (stored is null)
                {
                    counters.Violation(ref counters.Misrouted, $"user {user.Index}: run {runId} seen on a socket is not this user's");
                    continue;
                }

                var terminals = stored.Count(e => { using var d = JsonDocument.Parse(e); return SoakUser.IsTerminal(d.RootElement); });
                if (terminals != 1 || !IsTerminalText(stored[^1]))
                {
                    counters.Violation(ref counters.TerminalWrong, $"user {user.Index} run {runId}: {terminals} terminal events stored");
                }

                var position = new Dictionary<string, int>(StringComparer.Ordinal);
                for (var i = 0; i < stored.Count; i++)
                {
                    position.TryAdd(stored[i], i);
                }

                HashSet<string>? firstView = null;
                foreach (var tab in user.Tabs)
                {
                    var live = tab.Live.GetValueOrDefault(runId) ?? [];
                    var refetched = tab.Refetched.GetValueOrDefault(runId);
                    var last = -1;
                    foreach (var frame in live)
                    {
                        if (!position.TryGetValue(frame, out var at))
                        {
                            counters.Violation(ref counters.StoredMismatch, $"user {user.Index} tab {tab.Index} run {runId}: a live event is not stored as sent: {Trim(frame)}");
                            continue;
                        }

                        if (at <= last)
                        {
                            counters.Violation(ref counters.OutOfOrder, $"user {user.Index} tab {tab.Index} run {runId}: event {at} after {last}");
                        }

                        last = Math.Max(last, at);
                    }

                    var view = new HashSet<string>(live, StringComparer.Ordinal);
                    if (refetched is not null)
                    {
                        view.UnionWith(refetched);
                    }

                    foreach (var missing in stored.Where(e => !view.Contains(e)))
                    {
                        counters.Violation(ref counters.Lost, $"user {user.Index} tab {tab.Index} run {runId}: never received nor refetched {Trim(missing)}");
                    }

                    if (firstView is null)
                    {
                        firstView = view;
                    }
                    else if (!firstView.SetEquals(view))
                    {
                        counters.Violation(ref counters.Disagreements, $"user {user.Index} run {runId}: tab {tab.Index} holds other events than tab 0");
                    }
                }
            }
        }
    }

    private static bool IsTerminalText(string frame)
    {
        using var doc = JsonDocument.Parse(frame);
        return SoakUser.IsTerminal(doc.RootElement);
    }

    private static string Trim(string frame) => frame.Length > 160 ? frame[..160] + "…" : frame;
}

internal static class SoakReport
{
    public static void Print(IReadOnlyList<SoakResult> results)
    {
        var rows = new List<(string Name, Func<SoakResult, string> Value)>
        {
            ("nodes", r => r.Nodes.ToString("N0", CultureInfo.CurrentCulture)),
            ("users x sockets", r => $"{r.Settings.Users} x {r.Settings.Tabs}"),
            ("runs ended / planned", r => $"{r.Counters.RunsEnded:N0} / {r.Settings.Users * r.Settings.RunsPerUser:N0}"),
            ("frames received", r => r.Counters.Frames.ToString("N0", CultureInfo.CurrentCulture)),
            ("connections", r => r.Counters.Connections.ToString("N0", CultureInfo.CurrentCulture)),
            ("drops with close / without", r => $"{r.Counters.Closes:N0} / {r.Counters.Aborts:N0}"),
            ("resumes recovered / not", r => $"{r.Counters.Recovered:N0} / {r.Counters.Unrecovered:N0}"),
            ("REST refetches", r => r.Counters.Refetches.ToString("N0", CultureInfo.CurrentCulture)),
            ("close answered p50 / p99 / max ms", r => { var (p50, p99, max) = r.Counters.CloseTimes(); return $"{p50:N1} / {p99:N1} / {max:N1}"; }),
            ("lost", r => r.Counters.Lost.ToString("N0", CultureInfo.CurrentCulture)),
            ("duplicated", r => r.Counters.Duplicates.ToString("N0", CultureInfo.CurrentCulture)),
            ("seq gaps", r => r.Counters.Gaps.ToString("N0", CultureInfo.CurrentCulture)),
            ("out of order", r => r.Counters.OutOfOrder.ToString("N0", CultureInfo.CurrentCulture)),
            ("misrouted", r => r.Counters.Misrouted.ToString("N0", CultureInfo.CurrentCulture)),
            ("runs without exactly one terminal", r => r.Counters.TerminalWrong.ToString("N0", CultureInfo.CurrentCulture)),
            ("live event not stored as sent", r => r.Counters.StoredMismatch.ToString("N0", CultureInfo.CurrentCulture)),
            ("sockets of a user disagree", r => r.Counters.Disagreements.ToString("N0", CultureInfo.CurrentCulture)),
            ("closes slower than 1 s / unanswered", r => $"{r.Counters.SlowCloses:N0} / {r.Counters.UnansweredCloses:N0}"),
            ("  slower, but the process had no CPU", r => r.Counters.SlowClosesStalled.ToString("N0", CultureInfo.CurrentCulture)),
            ("error frames", r => r.Counters.ErrorFrames.ToString("N0", CultureInfo.CurrentCulture)),
            ("unfinished in time", r => r.Counters.Unfinished.ToString("N0", CultureInfo.CurrentCulture)),
            ("wall time s", r => r.Elapsed.TotalSeconds.ToString("N1", CultureInfo.CurrentCulture)),
            ("violations", r => r.Violations.ToString("N0", CultureInfo.CurrentCulture)),
        };
        var width = rows.Max(r => r.Name.Length);
        var columns = results.Select(r => r.Scenario == Scenario.Sqlite ? "SQLite, 1 node" : "PostgreSQL + Redis, 2 nodes").ToArray();
        var columnWidth = Math.Max(20, columns.Max(c => c.Length));
        Console.WriteLine();
        Console.WriteLine("| " + "".PadRight(width) + " | " + string.Join(" | ", columns.Select(c => c.PadLeft(columnWidth))) + " |");
        Console.WriteLine("|-" + new string('-', width) + "-|" + string.Join("|", columns.Select(_ => new string('-', columnWidth + 1) + ":")) + "|");
        foreach (var (name, value) in rows)
        {
            Console.WriteLine("| " + name.PadRight(width) + " | " + string.Join(" | ", results.Select(r => value(r).PadLeft(columnWidth))) + " |");
        }

        Console.WriteLine();
        Console.WriteLine(results.All(r => r.Violations == 0) ? "soak: no violation" : $"soak: {results.Sum(r => r.Violations)} violations");
    }
}
