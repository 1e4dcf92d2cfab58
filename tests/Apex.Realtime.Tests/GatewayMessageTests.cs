using System.Net.WebSockets;
using System.Text;
using Apex.Realtime.Gateway;
using Apex.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Apex.Realtime.Tests;

public sealed class GatewayMessageTests
{
    [Fact(Timeout = 60_000)]
    public async Task Ping_gets_pong_with_the_client_timestamp_and_no_seq()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        await using var socket = await TestSocket.ConnectAsync(server, user.AccessToken);
        await socket.ExpectAsync("connection_established");

        await socket.SendJsonAsync(new { type = "ping", payload = new { timestamp = 1234567 } });
        var pong = await socket.ExpectAsync("pong");
        Assert.False(pong.TryGetProperty("seq", out _));
        Assert.Equal(1234567, pong.GetProperty("payload").GetProperty("timestamp").GetInt64());
        Assert.True(pong.GetProperty("payload").TryGetProperty("server_time", out _));

        // Fields at the top level when payload is absent.
        await socket.SendJsonAsync(new { type = "ping", timestamp = "t-1" });
        Assert.Equal("t-1", (await socket.ExpectAsync("pong")).GetProperty("payload").GetProperty("timestamp").GetString());
    }

    [Fact(Timeout = 60_000)]
    public async Task User_message_and_its_aliases_reach_the_run_handler_and_are_acked_with_client_id()
    {
        var handler = new RecordingRunHandler();
        await using var server = await ApexTestServer.StartAsync(configure: b =>
        {
            b.Services.RemoveAll<IRunCommandHandler>();
            b.Services.AddSingleton<IRunCommandHandler>(handler);
        });
        var user = await server.RegisterUserAsync();
        await using var socket = await TestSocket.ConnectAsync(server, user.AccessToken);
        await socket.ExpectAsync("connection_established");

        await socket.SendJsonAsync(new { type = "user_message", id = "c1", payload = new { text = "why so costly?", thread_id = "thr_1", dataset_id = "ds_1" } });
        var ack = (await socket.ExpectAsync("ack")).GetProperty("payload");
        Assert.Equal("user_message", ack.GetProperty("received_type").GetString());
        Assert.Equal("c1", ack.GetProperty("client_id").GetString());
        Assert.Equal("thr_1", ack.GetProperty("thread_id").GetString());
        Assert.True(handler.Started.TryDequeue(out var first));
        Assert.Equal(new StartRunCommand(user.Id, "why so costly?", "thr_1", "ds_1"), first);

        await socket.SendJsonAsync(new { type = "chat_message", id = "c2", content = "alias one" });
        Assert.Equal("chat_message", (await socket.ExpectAsync("ack")).GetProperty("payload").GetProperty("received_type").GetString());
        await socket.SendJsonAsync(new { type = "message", message = "alias two" });
        Assert.Equal("message", (await socket.ExpectAsync("ack")).GetProperty("payload").GetProperty("received_type").GetString());
        await socket.SendJsonAsync(new { type = "chat", payload = new { text = "alias three" } });
        await socket.ExpectAsync("ack");
        Assert.Equal(["alias one", "alias two", "alias three"], handler.Started.Select(c => c.Text));
        Assert.All(handler.Started, c => Assert.Null(c.ThreadId));

        await socket.SendJsonAsync(new { type = "start_agent", id = 7, payload = new { user_request = "optimise", context = new { focus = "latency" } } });
        var started = (await socket.ExpectAsync("ack")).GetProperty("payload");
        Assert.Equal("start_agent", started.GetProperty("received_type").GetString());
        Assert.Equal("7", started.GetProperty("client_id").GetString());
        var agent = handler.Started.Last();
        Assert.Equal("optimise", agent.Text);
        Assert.Equal("latency", agent.Context!.Value.GetProperty("focus").GetString());

        // The handler's error code reaches the client.
        await socket.SendJsonAsync(new { type = "user_message", id = "c9", payload = new { text = "again", thread_id = "thr_busy" } });
        var busy = (await socket.ExpectAsync("error")).GetProperty("payload");
        Assert.Equal("run_active", busy.GetProperty("code").GetString());
        Assert.Equal("c9", busy.GetProperty("client_id").GetString());

        await socket.SendJsonAsync(new { type = "user_message", id = "c10", payload = new { thread_id = "thr_1" } });
        var missing = (await socket.ExpectAsync("error")).GetProperty("payload");
        Assert.Equal("invalid_message", missing.GetProperty("code").GetString());
        Assert.Equal("c10", missing.GetProperty("client_id").GetString());
    }

    [Fact(Timeout = 60_000)]
    public async Task Stop_agent_is_acked_or_answers_the_handlers_error()
    {
        var handler = new RecordingRunHandler();
        await using var server = await ApexTestServer.StartAsync(configure: b =>
        {
            b.Services.RemoveAll<IRunCommandHandler>();
            b.Services.AddSingleton<IRunCommandHandler>(handler);
        });
        var user = await server.RegisterUserAsync();
        await using var socket = await TestSocket.ConnectAsync(server, user.AccessToken);
        await socket.ExpectAsync("connection_established");

        await socket.SendJsonAsync(new { type = "stop_agent", id = "s1", payload = new { run_id = "run_mine" } });
        Assert.Equal("stop_agent", (await socket.ExpectAsync("ack")).GetProperty("payload").GetProperty("received_type").GetString());
        await socket.SendJsonAsync(new { type = "stop_agent", id = "s2", run_id = "run_theirs" });
        var error = (await socket.ExpectAsync("error")).GetProperty("payload");
        Assert.Equal("not_found", error.GetProperty("code").GetString());
        Assert.Equal("s2", error.GetProperty("client_id").GetString());
        Assert.Equal(new[] { (user.Id, "run_mine"), (user.Id, "run_theirs") }, handler.Stopped.ToArray());
    }

    [Fact(Timeout = 60_000)]
    public async Task Without_a_run_handler_run_commands_answer_unavailable()
    {
        await using var server = await ApexTestServer.StartAsync(configure: b => b.Services.RemoveAll<IRunCommandHandler>());
        var user = await server.RegisterUserAsync();
        await using var socket = await TestSocket.ConnectAsync(server, user.AccessToken);
        await socket.ExpectAsync("connection_established");

        await socket.SendJsonAsync(new { type = "user_message", id = "u1", payload = new { text = "hello" } });
        var error = (await socket.ExpectAsync("error")).GetProperty("payload");
        Assert.Equal("unavailable", error.GetProperty("code").GetString());
        Assert.Equal("u1", error.GetProperty("client_id").GetString());
    }

    [Fact(Timeout = 60_000)]
    public async Task Invalid_json_missing_type_unknown_type_and_binary_garbage_get_errors_and_the_socket_stays_usable()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        await using var socket = await TestSocket.ConnectAsync(server, user.AccessToken);
        await socket.ExpectAsync("connection_established");

        await socket.SendTextAsync("{not json");
        Assert.Equal("invalid_json", (await socket.ExpectAsync("error")).GetProperty("payload").GetProperty("code").GetString());

        await socket.SendJsonAsync(new { id = "x1", payload = new { } });
        var missing = (await socket.ExpectAsync("error")).GetProperty("payload");
        Assert.Equal("invalid_message", missing.GetProperty("code").GetString());
        Assert.Equal("x1", missing.GetProperty("client_id").GetString());

        await socket.SendTextAsync("[1,2,3]");
        Assert.Equal("invalid_message", (await socket.ExpectAsync("error")).GetProperty("payload").GetProperty("code").GetString());

        await socket.SendJsonAsync(new { type = "teleport", id = "x2" });
        var unknown = (await socket.ExpectAsync("error")).GetProperty("payload");
        Assert.Equal("unknown_type", unknown.GetProperty("code").GetString());
        Assert.Equal("x2", unknown.GetProperty("client_id").GetString());

        await socket.Socket.SendAsync(new byte[] { 0x7B, 0xFF, 0xFE, 0x7D }, WebSocketMessageType.Binary, true, CancellationToken.None);
        Assert.Equal("invalid_message", (await socket.ExpectAsync("error")).GetProperty("payload").GetProperty("code").GetString());

        await socket.SendJsonAsync(new { type = "heartbeat_ack", payload = new { timestamp = "x" } });
        await socket.SendJsonAsync(new { type = "ping", payload = new { timestamp = 1 } });
        await socket.ExpectAsync("pong");
        Assert.Equal(WebSocketState.Open, socket.Socket.State);
    }

    [Fact(Timeout = 60_000)]
    public async Task Server_sends_heartbeat_after_the_configured_silence()
    {
        await using var server = await ApexTestServer.StartAsync(settings: new Dictionary<string, string?> { ["Realtime:HeartbeatIntervalSeconds"] = "1" });
        var user = await server.RegisterUserAsync();
        await using var socket = await TestSocket.ConnectAsync(server, user.AccessToken);
        var established = await socket.ExpectAsync("connection_established");
        Assert.Equal(1, established.GetProperty("payload").GetProperty("heartbeat_interval_s").GetInt32());

        var heartbeat = await socket.ReceiveAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("heartbeat", heartbeat.GetProperty("type").GetString());
        Assert.False(heartbeat.TryGetProperty("seq", out _));
        await socket.SendJsonAsync(new { type = "heartbeat_ack", payload = new { timestamp = heartbeat.GetProperty("timestamp").GetString() } });
        Assert.Equal("heartbeat", (await socket.ReceiveAsync(TimeSpan.FromSeconds(5))).GetProperty("type").GetString());
    }

    [Fact(Timeout = 60_000)]
    public async Task Unknown_broker_provider_is_a_startup_error_naming_the_key()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var server = await ApexTestServer.StartAsync(settings: new Dictionary<string, string?> { ["Broker:Provider"] = "carrier-pigeon" });
        });
        Assert.Contains("Broker:Provider", error.ToString(), StringComparison.Ordinal);
    }

    internal static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
}
