using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Apex.Bench.Soak;

/// <summary>
/// One browser tab of a user: a WebSocket that is dropped at random (with or without a close frame)
/// and reconnects with <c>?epoch=&amp;last_seq=</c>, checking every frame as it arrives. What a resume
/// the server cannot recover loses is refetched over REST, as the protocol tells clients to do.
/// </summary>
internal sealed class Tab(SoakUser user, int index, Nodes nodes, SoakCounters counters, StallMonitor stalls, int seed)
{
    private readonly Random _random = new(seed);
    private readonly Lock _gate = new();
    private string? _epoch;
    private long _lastSeq = -1;

    /// <summary>Agent events per run, in arrival order, as received live (raw JSON).</summary>
    public Dictionary<string, List<string>> Live { get; } = [];

    /// <summary>Events of a run fetched over REST after an unrecoverable resume (raw JSON).</summary>
    public Dictionary<string, HashSet<string>> Refetched { get; } = [];

    /// <summary>Every thread id any frame of this tab named.</summary>
    public HashSet<string> ThreadsNamed { get; } = [];

    /// <summary>Every run id any frame of this tab named.</summary>
    public HashSet<string> RunsNamed { get; } = [];

    public int Index => index;

    /// <summary>Connects, drops and resumes until <paramref name="drops"/> ends, then catches up once and closes.</summary>
    public async Task RunAsync(CancellationToken drops, CancellationToken hardStop)
    {
        while (!drops.IsCancellationRequested && !hardStop.IsCancellationRequested)
        {
            await OneConnectionAsync(finalCatchUp: false, drops, hardStop);
        }

        // Every run has ended: one last resume brings this tab up to the head of its user's stream.
        while (!hardStop.IsCancellationRequested)
        {
            if (await OneConnectionAsync(finalCatchUp: true, drops, hardStop))
            {
                return;
            }
        }
    }

    private async Task<bool> OneConnectionAsync(bool finalCatchUp, CancellationToken drops, CancellationToken hardStop)
    {
        var address = nodes.Pick(_random);
        if (address is null)
        {
            await Delay(50, hardStop);
            return false;
        }

        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + user.Token);
        var resume = _epoch is not null;
        var path = resume ? $"/ws?epoch={Uri.EscapeDataString(_epoch!)}&last_seq={_lastSeq}" : "/ws";
        var uri = new Uri(new UriBuilder(address) { Scheme = "ws" }.Uri, path);
        try
        {
            using var connect = CancellationTokenSource.CreateLinkedTokenSource(hardStop);
            connect.CancelAfter(TimeSpan.FromSeconds(5));
            await socket.ConnectAsync(uri, connect.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or HttpRequestException)
        {
            SoakCounters.Add(ref counters.ConnectFailures);
            await Delay(100, hardStop);
            return false;
        }

        SoakCounters.Add(ref counters.Connections);
        var session = new Session(resume, finalCatchUp);
        var receive = ReceiveLoopAsync(socket, session, hardStop);
        if (finalCatchUp)
        {
            // Wait for the replay (or the refetch) to complete, then close cleanly.
            var done = await Task.WhenAny(session.CaughtUp.Task, receive, Task.Delay(TimeSpan.FromSeconds(30), hardStop));
            if (done != session.CaughtUp.Task)
            {
                socket.Abort();
                await Swallow(receive);
                return false;
            }

            await CloseAsync(socket, session, receive);
            return true;
        }

        var dropAfter = TimeSpan.FromMilliseconds(_random.Next(150, 1500));
        using var dropTimer = CancellationTokenSource.CreateLinkedTokenSource(drops, hardStop);
        var ended = await Task.WhenAny(receive, Task.Delay(dropAfter, dropTimer.Token).ContinueWith(_ => { }, TaskScheduler.Default));
        if (ended == receive)
        {
            // The server closed (a node restarting says 1001) or the connection broke.
            await Swallow(receive);
            return false;
        }

        if (_random.Next(2) == 0)
        {
            await CloseAsync(socket, session, receive);
        }
        else
        {
            SoakCounters.Add(ref counters.Aborts);
            socket.Abort();
            await Swallow(receive);
        }

        return false;
    }

    /// <summary>Sends a close frame and times the server's answer (RFC 6455: at once).</summary>
    private async Task CloseAsync(ClientWebSocket socket, Session session, Task receive)
    {
        SoakCounters.Add(ref counters.Closes);
        var started = Stopwatch.GetTimestamp();
        var watch = Stopwatch.StartNew();
        try
        {
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "tab closed", CancellationToken.None);
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or InvalidOperationException)
        {
            // The server closed first; nothing to time.
            await Swallow(receive);
            return;
        }

        var answered = await Task.WhenAny(receive, Task.Delay(TimeSpan.FromSeconds(5))) == receive && session.CloseReceived;
        watch.Stop();
        if (!answered)
        {
            counters.Violation(ref counters.UnansweredCloses, $"user {user.Index} tab {index}: close not answered within 5 s");
            socket.Abort();
            await Swallow(receive);
            return;
        }

        counters.RecordClose(watch.Elapsed);
        if (watch.Elapsed > TimeSpan.FromSeconds(1))
        {
            var stalled = stalls.StalledBetween(started, Stopwatch.GetTimestamp());
            if (watch.Elapsed - stalled > TimeSpan.FromSeconds(1))
            {
                counters.Violation(ref counters.SlowCloses, $"user {user.Index} tab {index}: close answered after {watch.Elapsed.TotalMilliseconds:N0} ms ({stalled.TotalMilliseconds:N0} ms of it without CPU)");
            }
            else
            {
                counters.Note(ref counters.SlowClosesStalled, $"user {user.Index} tab {index}: close answered after {watch.Elapsed.TotalMilliseconds:N0} ms, {stalled.TotalMilliseconds:N0} ms of it with the process unscheduled");
            }
        }
    }

    private async Task ReceiveLoopAsync(ClientWebSocket socket, Session session, CancellationToken hardStop)
    {
        var buffer = new byte[64 * 1024];
        var message = new MemoryStream();
        try
        {
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer, hardStop);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    session.CloseReceived = true;
                    if (socket.State == WebSocketState.CloseReceived)
                    {
                        // The server closed first (a node stopping): answer it.
                        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                    }

                    return;
                }

                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage)
                {
                    continue;
                }

                var text = Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length);
                message.SetLength(0);
                await HandleAsync(text, session, hardStop);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Dropped without a close (ours or the network's).
        }
    }

    private async Task HandleAsync(string text, Session session, CancellationToken hardStop)
    {
        SoakCounters.Add(ref counters.Frames);
        using var doc = JsonDocument.Parse(text);
        var root = doc.RootElement;
        var type = root.GetProperty("type").GetString();
        var payload = root.TryGetProperty("payload", out var p) ? p : default;
        switch (type)
        {
            case "connection_established":
                session.Epoch = payload.GetProperty("epoch").GetString();
                session.Head = payload.GetProperty("last_seq").GetInt64();
                if (!session.Resume)
                {
                    lock (_gate)
                    {
                        _epoch = session.Epoch;
                        _lastSeq = session.Head;
                    }

                    session.CaughtUp.TrySetResult();
                }

                return;
            case "resumed":
                if (payload.GetProperty("recovered").GetBoolean())
                {
                    SoakCounters.Add(ref counters.Recovered);
                    session.ReplayLeft = payload.GetProperty("replayed").GetInt32();
                    if (session.ReplayLeft == 0)
                    {
                        session.CaughtUp.TrySetResult();
                    }
                }
                else
                {
                    // History lost (a restarted single node) or out of the window: continue from the
                    // stream's head and reload what was missed over REST.
                    SoakCounters.Add(ref counters.Unrecovered);
                    lock (_gate)
                    {
                        _epoch = session.Epoch;
                        _lastSeq = session.Head;
                    }

                    await RefetchAsync(hardStop);
                    session.CaughtUp.TrySetResult();
                }

                return;
            case "pong" or "ack" or "heartbeat":
                return;
            case "error":
                counters.Violation(ref counters.ErrorFrames, $"user {user.Index} tab {index}: error frame {text}");
                return;
        }

        if (!root.TryGetProperty("seq", out var seqElement))
        {
            return;
        }

        var seq = seqElement.GetInt64();
        var runId = root.TryGetProperty("run_id", out var r) ? r.GetString() : null;
        var threadId = root.TryGetProperty("thread_id", out var t) ? t.GetString()
            : payload.ValueKind == JsonValueKind.Object && payload.TryGetProperty("thread", out var thread) && thread.TryGetProperty("id", out var tid) ? tid.GetString()
            : null;
        lock (_gate)
        {
            if (seq == _lastSeq + 1)
            {
                _lastSeq = seq;
            }
            else if (seq <= _lastSeq)
            {
                counters.Violation(ref counters.Duplicates, $"user {user.Index} tab {index}: seq {seq} again after {_lastSeq}");
            }
            else
            {
                counters.Violation(ref counters.Gaps, $"user {user.Index} tab {index}: seq {seq} after {_lastSeq} (gap)");
                _lastSeq = seq;
            }

            if (threadId is not null)
            {
                ThreadsNamed.Add(threadId);
            }

            if (runId is not null)
            {
                RunsNamed.Add(runId);
                if (!Live.TryGetValue(runId, out var list))
                {
                    Live[runId] = list = [];
                }

                list.Add(text);
            }
        }

        if (runId is not null && SoakUser.IsTerminal(root))
        {
            user.RunEnded(runId);
        }

        if (session.ReplayLeft > 0 && --session.ReplayLeft == 0)
        {
            session.CaughtUp.TrySetResult();
        }
    }

    private async Task RefetchAsync(CancellationToken hardStop)
    {
        SoakCounters.Add(ref counters.Refetches);
        foreach (var runId in await user.ListRunsAsync(nodes, _random, hardStop))
        {
            var stored = await user.FetchEventsAsync(runId, nodes, _random, hardStop);
            lock (_gate)
            {
                if (!Refetched.TryGetValue(runId, out var set))
                {
                    Refetched[runId] = set = new HashSet<string>(StringComparer.Ordinal);
                }

                set.UnionWith(stored ?? []);
            }
        }
    }

    private static async Task Swallow(Task task)
    {
        try
        {
            await task.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException or WebSocketException)
        {
        }
    }

    private static async Task Delay(int ms, CancellationToken ct)
    {
        try
        {
            await Task.Delay(ms, ct);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private sealed class Session(bool resume, bool finalCatchUp)
    {
        public bool Resume { get; } = resume;
        public bool FinalCatchUp { get; } = finalCatchUp;
        public string? Epoch { get; set; }
        public long Head { get; set; }
        public int ReplayLeft { get; set; }
        public volatile bool CloseReceived;
        public TaskCompletionSource CaughtUp { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
