using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Apex.Testing;

namespace Apex.Chat.Tests;

/// <summary>
/// A real <c>apex serve</c> process killed with SIGKILL in the middle of a run (no shutdown code
/// runs), then started again on the same data: the run must end visibly, on every path a client has.
/// </summary>
public sealed class ProcessKillTests
{
    [Fact(Timeout = 180_000)]
    public async Task A_run_of_a_process_killed_with_sigkill_ends_with_server_shutdown_after_the_restart()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(170));
        var ct = cts.Token;
        var dataDir = Directory.CreateTempSubdirectory("apex-kill-").FullName;
        await using var database = ApexTestServer.UsesPostgres ? await PostgresTestDatabase.CreateAsync(ct: ct) : null;
        // A model endpoint that accepts the request and never answers: the run stays in its tool phase
        // (Agent:TimeoutSeconds is far longer than the test) until the process dies.
        using var model = new SilentModelServer();
        var settings = new List<string>
        {
            "--environment=Development",
            $"--Apex:DataDir={dataDir}",
            "--Agent:Provider=OpenAI",
            $"--Agent:Endpoint=http://127.0.0.1:{model.Port}/v1",
            "--Agent:Model=silent",
            "--Agent:ApiKey=test-key",
            "--Agent:TimeoutSeconds=600",
        };
        if (database is not null)
        {
            settings.Add("--Database:Provider=Postgres");
            settings.Add($"--Database:ConnectionString={database.ConnectionString}");
            var (exit, stdout, stderr) = await ApexProcess.RunAsync(["migrate", .. settings]);
            Assert.True(exit == 0, $"apex migrate failed: {stdout}{stderr}");
        }

        string runId;
        string threadId;
        string token;
        string epoch;
        long lastSeq;
        await using (var first = await ApexProcess.StartAsync(settings, ct))
        {
            using var http = new HttpClient { BaseAddress = first.BaseAddress };
            token = await DevLoginAsync(http, ct);
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var socket = await ConnectAsync(first.BaseAddress, token, "/ws", ct);
            var established = await ReceiveAsync(socket, ct);
            Assert.Equal("connection_established", established.Type());
            epoch = established.GetProperty("payload").Str("epoch")!;
            lastSeq = established.GetProperty("payload").GetProperty("last_seq").GetInt64();

            using var created = await http.PostAsJsonAsync("/api/threads", new { title = "killed" }, ct);
            threadId = (await created.Content.ReadFromJsonAsync<JsonElement>(ct)).Str("id")!;
            using var posted = await http.PostAsJsonAsync($"/api/threads/{threadId}/messages", new { content = "Where can we cut cost on gpt-4o?" }, ct);
            Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
            runId = (await posted.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("run").Str("id")!;

            // The run is under way: its first event reached the socket and the model has been called.
            JsonElement frame;
            do
            {
                frame = await ReceiveAsync(socket, ct);
                if (frame.TryGetProperty("seq", out var seq))
                {
                    lastSeq = seq.GetInt64();
                }
            }
            while (!(frame.Type() == "agent_started" && frame.Str("run_id") == runId));
            await model.Called.Task.WaitAsync(ct);

            first.Kill();
        }

        await using var second = await ApexProcess.StartAsync(settings, ct);
        using var again = new HttpClient { BaseAddress = second.BaseAddress };
        again.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        // The run is failed, with the code a client can act on.
        var run = await again.GetFromJsonAsync<JsonElement>($"/api/runs/{runId}", ct);
        Assert.Equal("failed", run.Str("status"));
        Assert.Equal("server_shutdown", run.GetProperty("error").Str("code"));

        // Its stored log ends with exactly one terminal event: agent_error, final.
        var events = (await again.GetFromJsonAsync<JsonElement>($"/api/runs/{runId}/events?limit=200", ct))
            .GetProperty("items").EnumerateArray().Select(e => e.Clone()).ToList();
        var stored = string.Join(", ", events.Select(e => $"{e.Type()}#{e.GetProperty("seq")}"));
        Assert.True(events[0].Type() == "agent_started", $"the stored log starts with the run's agent_started: {stored}");
        Assert.Equal(1, events.Count(e => e.IsTerminal()));
        var terminal = events[^1];
        Assert.Equal("agent_error", terminal.Type());
        Assert.Equal("server_shutdown", terminal.GetProperty("payload").Str("code"));
        Assert.True(terminal.GetProperty("payload").GetProperty("final").GetBoolean());

        // A client that had every event up to the kill asks for what came after it: the end, even
        // when the restart numbered it in a new stream (seq below the client's).
        var lastBeforeKill = events[^2].GetProperty("seq").GetInt64();
        var after = (await again.GetFromJsonAsync<JsonElement>($"/api/runs/{runId}/events?after_seq={lastBeforeKill}", ct))
            .GetProperty("items").EnumerateArray().Select(e => e.Clone()).ToList();
        Assert.True(after.Count == 1 && after[0].IsTerminal(), $"after_seq={lastBeforeKill} of {stored}: {after.Count} events");

        // The socket of before the kill resumes: either the stream survived and the end is replayed, or
        // the server says it cannot recover, and a fresh resume from the start of the new stream
        // replays the end (the restart published it).
        using (var resumed = await ConnectAsync(second.BaseAddress, token, $"/ws?epoch={Uri.EscapeDataString(epoch)}&last_seq={lastSeq}", ct))
        {
            var established = await ReceiveAsync(resumed, ct);
            Assert.Equal("connection_established", established.Type());
            var answer = await ReceiveAsync(resumed, ct);
            Assert.Equal("resumed", answer.Type());
            if (answer.GetProperty("payload").GetProperty("recovered").GetBoolean())
            {
                Assert.True(JsonElement.DeepEquals(terminal, await ReceiveUntilTerminalAsync(resumed, runId, ct)));
            }
            else
            {
                var newEpoch = established.GetProperty("payload").Str("epoch")!;
                using var fromStart = await ConnectAsync(second.BaseAddress, token, $"/ws?epoch={Uri.EscapeDataString(newEpoch)}&last_seq=0", ct);
                Assert.True(JsonElement.DeepEquals(terminal, await ReceiveUntilTerminalAsync(fromStart, runId, ct)));
            }
        }

        // The thread is free again.
        using var next = await again.PostAsJsonAsync($"/api/threads/{threadId}/messages", new { content = "And now?" }, ct);
        Assert.Equal(HttpStatusCode.Accepted, next.StatusCode);
        await second.DisposeAsync();
        try
        {
            Directory.Delete(dataDir, recursive: true);
        }
        catch (IOException)
        {
            // The OS temp cleaner removes it later.
        }
    }

    private static async Task<JsonElement> ReceiveUntilTerminalAsync(ClientWebSocket socket, string runId, CancellationToken ct)
    {
        var terminals = 0;
        JsonElement frame;
        do
        {
            frame = await ReceiveAsync(socket, ct);
            Assert.False(frame.Type() == "resumed" && frame.GetProperty("payload").GetProperty("recovered").GetBoolean() is false,
                "a resume from the start of the current stream must be recovered");
            if (frame.IsTerminalOf(runId))
            {
                terminals++;
            }
        }
        while (!frame.IsTerminalOf(runId));
        Assert.Equal(1, terminals);
        return frame;
    }

    private static async Task<string> DevLoginAsync(HttpClient http, CancellationToken ct)
    {
        using var response = await http.PostAsJsonAsync("/auth/dev/login", new { email = $"kill-{Guid.NewGuid():N}@example.test" }, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).Str("access_token")!;
    }

    private static async Task<ClientWebSocket> ConnectAsync(Uri baseAddress, string token, string path, CancellationToken ct)
    {
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
        await socket.ConnectAsync(new Uri(new UriBuilder(baseAddress) { Scheme = "ws" }.Uri, path), ct);
        return socket;
    }

    private static async Task<JsonElement> ReceiveAsync(ClientWebSocket socket, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, ct);
            Assert.NotEqual(WebSocketMessageType.Close, result.MessageType);
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                using var document = JsonDocument.Parse(message.ToArray());
                return document.RootElement.Clone();
            }
        }
    }

    /// <summary>Accepts connections and reads requests, never answering: a model that does not respond.</summary>
    private sealed class SilentModelServer : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly List<TcpClient> _clients = [];
        private readonly CancellationTokenSource _stop = new();

        public SilentModelServer()
        {
            _listener.Start();
            _ = AcceptAsync();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        /// <summary>Completed when a request has arrived.</summary>
        public TaskCompletionSource Called { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            lock (_clients)
            {
                foreach (var client in _clients)
                {
                    client.Dispose();
                }
            }

            _stop.Dispose();
        }

        private async Task AcceptAsync()
        {
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    lock (_clients)
                    {
                        _clients.Add(client);
                    }

                    _ = DrainAsync(client);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }

        private async Task DrainAsync(TcpClient client)
        {
            var buffer = new byte[16 * 1024];
            var received = new StringBuilder();
            try
            {
                var stream = client.GetStream();
                int read;
                while ((read = await stream.ReadAsync(buffer, _stop.Token)) > 0)
                {
                    received.Append(Encoding.ASCII.GetString(buffer, 0, read));
                    if (received.ToString().Contains("/chat/completions", StringComparison.Ordinal))
                    {
                        Called.TrySetResult();
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
            {
            }
        }
    }
}
