using System.Net;
using System.Text;
using System.Text.Json;
using Apex.Verify.Probe;

namespace Apex.Verify.Checks;

/// <summary>Phase 6: handshake rules, connection_established, ping/pong, bad frames.</summary>
internal static class WebSocketPhase
{
    /// <summary>Frames the gateway must answer with an error frame: label, frame, accepted codes, client_id to echo.</summary>
    private static readonly (string Label, string Frame, string[] Codes, string? ClientId)[] BadFrames =
    [
        ("invalid JSON", "{\"type\": \"ping\", ", ["invalid_json"], null),
        ("no type", "{\"id\":\"verify-no-type\",\"payload\":{}}", ["invalid_message"], null),
        ("an unknown type", "{\"type\":\"verify_unknown_type\",\"id\":\"verify-unknown\",\"payload\":{}}", ["unknown_type"], "verify-unknown"),
    ];

    public static async Task RunAsync(VerifyContext ctx, CancellationToken ct)
    {
        var e = ctx.Endpoints;
        var s = ctx.Settings;
        ProbeSocket? socket = null;
        try
        {
            await ctx.CheckAsync("ws.no_token", "no token or a bad token: 401 before the upgrade", async _ =>
            {
                foreach (var (label, bearer) in new[] { ("no token", (string?)null), ("a malformed token", "not.a.jwt") })
                {
                    var attempt = await ProbeSocket.ConnectAsync(e.Ws, bearer, [], null, s.FrameTimeout, ct);
                    if (attempt.Socket is { } accepted)
                    {
                        await accepted.DisposeAsync();
                        throw new CheckFailedException($"the upgrade with {label} was accepted");
                    }

                    if (attempt.RefusedStatus != HttpStatusCode.Unauthorized)
                    {
                        throw new CheckFailedException($"the upgrade with {label} was refused with {attempt.Error}, expected HTTP 401");
                    }
                }

                var problem = await UpgradeRequestAsync(ctx, null, ct);
                problem.Expect(401).ExpectProblem();
                return $"{e.Ws.AbsolutePath} refuses the upgrade with HTTP 401 and problem JSON ({problem.ProblemSummary()})";
            }, ct, needs: [Facts.Api]);

            await ctx.CheckAsync("ws.foreign_origin", "a foreign browser origin: 403", async _ =>
            {
                var attempt = await ProbeSocket.ConnectAsync(e.Ws, ctx.UserA!.AccessToken, [], CorsPhase.ForeignOrigin, s.FrameTimeout, ct);
                if (attempt.Socket is { } accepted)
                {
                    await accepted.DisposeAsync();
                    throw new CheckFailedException($"an upgrade with Origin {CorsPhase.ForeignOrigin} was accepted");
                }

                if (attempt.RefusedStatus != HttpStatusCode.Forbidden)
                {
                    throw new CheckFailedException($"an upgrade with Origin {CorsPhase.ForeignOrigin}: {attempt.Error}, expected HTTP 403");
                }

                return $"Origin {CorsPhase.ForeignOrigin} refused with HTTP 403";
            }, ct, needs: [Facts.Session]);

            await ctx.CheckAsync("ws.handshake", "Bearer handshake and connection_established", async scope =>
            {
                var attempt = await ProbeSocket.ConnectAsync(e.Ws, ctx.UserA!.AccessToken, [], null, s.FrameTimeout, ct);
                socket = attempt.Socket ?? throw new CheckFailedException($"{e.Ws}: {attempt.Error}");
                if (socket.SubProtocol is not null)
                {
                    throw new CheckFailedException($"the server selected subprotocol '{socket.SubProtocol}' although none was offered");
                }

                var established = await ExpectEstablishedAsync(ctx, socket, ctx.UserA.UserId, ct);
                scope.Measured = established.ReceivedAt;
                return $"connection_established after {established.ReceivedAt.TotalMilliseconds:0} ms: {DescribeEstablished(established)}";
            }, ct, needs: [Facts.Session], provides: Facts.Socket);

            await ctx.CheckAsync("ws.subprotocol", "jwt subprotocol auth and the jwt-auth echo", async _ =>
            {
                var token = ctx.UserA!.AccessToken;
                var encoded = Convert.ToBase64String(Encoding.UTF8.GetBytes(token)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
                ctx.Remember(encoded);
                var results = new List<string>();
                foreach (var (label, offered, expected) in new[]
                {
                    ("jwt-auth + jwt.<token>", new[] { "jwt-auth", "jwt." + token }, "jwt-auth"),
                    ("jwt.<base64url token> alone", new[] { "jwt." + encoded }, (string?)null),
                })
                {
                    var attempt = await ProbeSocket.ConnectAsync(e.Ws, null, offered, null, s.FrameTimeout, ct);
                    if (attempt.Socket is not { } sub)
                    {
                        throw new CheckFailedException($"offering {label}: {attempt.Error}");
                    }

                    await using (sub)
                    {
                        if (sub.SubProtocol != expected)
                        {
                            throw new CheckFailedException($"offering {label}, the server selected '{sub.SubProtocol ?? "none"}', expected '{expected ?? "none"}'");
                        }

                        await ExpectEstablishedAsync(ctx, sub, ctx.UserA.UserId, ct);
                    }

                    results.Add($"{label} -> {expected ?? "none"} selected");
                }

                return string.Join("; ", results) + "; connection_established for the probe user each time";
            }, ct, needs: [Facts.Socket]);

            await ctx.CheckAsync("ws.ping", "ping/pong round trip", async scope =>
            {
                var (pong, rtt) = await PingAsync(socket!, "verify-ping-1", s.FrameTimeout, ct);
                scope.Measured = rtt;
                if (pong.Seq is not null)
                {
                    throw new CheckFailedException($"pong carries seq {pong.Seq}: replies to one connection must not");
                }

                return $"pong in {rtt.TotalMilliseconds:0.0} ms, timestamp echoed, server_time {pong.Payload.Str("server_time") ?? "missing"}";
            }, ct, needs: [Facts.Socket]);

            await ctx.CheckAsync("ws.bad_frame", "bad frames get an error, the socket survives", async _ =>
            {
                var sk = socket!;
                var seen = new List<string>();
                foreach (var (label, frame, codes, clientId) in BadFrames)
                {
                    await sk.SendTextAsync(frame, ct);
                    var error = await sk.WaitForAsync(f => f.Type == "error", s.FrameTimeout, $"error frame for {label}", ct);
                    var code = error.Payload.Str("code");
                    if (!codes.Contains(code))
                    {
                        throw new CheckFailedException($"{label}: error code '{code}', expected {string.Join(" or ", codes)}");
                    }

                    if (clientId is not null && error.Payload.Str("client_id") != clientId)
                    {
                        throw new CheckFailedException($"{label}: error does not echo client_id '{clientId}' (got '{error.Payload.Str("client_id")}')");
                    }

                    seen.Add($"{label} -> {code}");
                }

                await PingAsync(sk, "verify-ping-2", s.FrameTimeout, ct);
                return string.Join(", ", seen) + "; a ping afterwards is answered";
            }, ct, needs: [Facts.Socket]);
        }
        finally
        {
            if (socket is not null)
            {
                await socket.DisposeAsync();
            }
        }
    }

    /// <summary>Reads the first frame and checks it is a complete connection_established.</summary>
    public static async Task<Frame> ExpectEstablishedAsync(VerifyContext ctx, ProbeSocket socket, string? userId, CancellationToken ct)
    {
        var first = await socket.NextAsync(ctx.Settings.FrameTimeout, ct)
            ?? throw new CheckFailedException($"no frame within {ctx.Settings.FrameTimeout.TotalSeconds:0.#} s of the handshake{(socket.IsClosed ? $" (socket closed{socket.CloseText()})" : string.Empty)}");
        if (first.Type != "connection_established")
        {
            throw new CheckFailedException($"the first frame is '{first.Type}', not connection_established");
        }

        var p = first.Payload;
        var problems = new List<string>();
        foreach (var field in new[] { "connection_id", "user_id", "server_time", "heartbeat_interval_s", "max_message_bytes", "epoch", "last_seq" })
        {
            if (!p.Has(field))
            {
                problems.Add($"no {field}");
            }
        }

        if (p.Long("heartbeat_interval_s") is <= 0 || p.Long("max_message_bytes") is <= 0)
        {
            problems.Add("heartbeat_interval_s and max_message_bytes must be positive");
        }

        if (userId is not null && p.Str("user_id") is { } seen && seen != userId)
        {
            problems.Add($"user_id {seen} is not the signed-in {userId}");
        }

        if (problems.Count > 0)
        {
            throw new CheckFailedException($"connection_established: {string.Join(", ", problems)}");
        }

        return first;
    }

    public static string DescribeEstablished(Frame f) =>
        $"connection {f.Payload.Str("connection_id")}, user {f.Payload.Str("user_id")}, epoch {Epoch(f)}, last_seq {f.Payload.Long("last_seq")}, heartbeat {f.Payload.Long("heartbeat_interval_s")} s";

    /// <summary>The epoch as the text to send back in <c>?epoch=</c> (a string or a number on the wire).</summary>
    public static string? Epoch(Frame established) =>
        established.Payload.Prop("epoch") switch
        {
            { ValueKind: JsonValueKind.String } s => s.GetString(),
            { ValueKind: JsonValueKind.Number } n => n.GetRawText(),
            _ => null,
        };

    public static async Task<(Frame Pong, TimeSpan RoundTrip)> PingAsync(ProbeSocket socket, string id, TimeSpan timeout, CancellationToken ct)
    {
        var stamp = DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        var sent = socket.Now;
        await socket.SendJsonAsync(new { type = "ping", id, payload = new { timestamp = stamp } }, ct);
        var pong = await socket.WaitForAsync(f => f.Type == "pong", timeout, "pong", ct);
        if (pong.Payload.Str("timestamp") != stamp)
        {
            throw new CheckFailedException($"pong timestamp '{pong.Payload.Str("timestamp")}' is not the ping's '{stamp}'");
        }

        return (pong, pong.ReceivedAt - sent);
    }

    /// <summary>A WebSocket upgrade request over plain HTTP, to read the body of a refusal.</summary>
    private static async Task<ProbeResponse> UpgradeRequestAsync(VerifyContext ctx, string? bearer, CancellationToken ct)
    {
        var http = new UriBuilder(ctx.Endpoints.Ws) { Scheme = ctx.Endpoints.Ws.Scheme == "wss" ? "https" : "http" }.Uri;
        return await ctx.Http.SendAsync(HttpMethod.Get, http, bearer, null, ct,
        [
            new("Connection", "Upgrade"),
            new("Upgrade", "websocket"),
            new("Sec-WebSocket-Version", "13"),
            new("Sec-WebSocket-Key", Convert.ToBase64String(Guid.NewGuid().ToByteArray())),
        ]);
    }
}
