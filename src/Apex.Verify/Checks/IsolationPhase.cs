using Apex.Verify.Probe;

namespace Apex.Verify.Checks;

/// <summary>
/// Phase 9: user B's socket, open while user A's runs went (phases 7 and 8), received none of their
/// events; user B cannot read or stop user A's run.
/// </summary>
internal static class IsolationPhase
{
    private static readonly HashSet<string> ConnectionFrames = ["connection_established", "heartbeat", "pong", "ack", "error"];

    /// <summary>Opens user B's socket before user A's first run starts.</summary>
    public static async Task OpenObserverAsync(VerifyContext ctx, CancellationToken ct)
    {
        await ctx.CheckAsync("isolation.observer", "user B's socket opens", async _ =>
        {
            var attempt = await ProbeSocket.ConnectAsync(ctx.Endpoints.Ws, ctx.UserB!.AccessToken, [], null, ctx.Settings.FrameTimeout, ct);
            ctx.Observer = attempt.Socket ?? throw new CheckFailedException($"user B: {attempt.Error}");
            var established = await WebSocketPhase.ExpectEstablishedAsync(ctx, ctx.Observer, ctx.UserB.UserId, ct);
            if (established.Payload.Str("user_id") == ctx.UserA!.UserId)
            {
                throw new CheckFailedException($"user B's connection_established names user A ({ctx.UserA.UserId})");
            }

            return $"user B ({established.Payload.Str("user_id")}) listening before user A's runs";
        }, ct, needs: [Facts.SecondSession], provides: Facts.Observer);
    }

    public static async Task RunAsync(VerifyContext ctx, CancellationToken ct)
    {
        var s = ctx.Settings;
        await ctx.CheckAsync("isolation.events", "user B receives none of user A's events", async _ =>
        {
            var observer = ctx.Observer!;
            await Task.Delay(s.QuietPeriod, ct);
            var frames = observer.All.Skip(1).Where(f => f.Type is null || !ConnectionFrames.Contains(f.Type)).ToList();
            var leaked = frames.Where(f => (f.RunId is not null && ctx.UserARuns.Contains(f.RunId)) || (f.ThreadId is not null && ctx.UserAThreads.Contains(f.ThreadId))
                || f.Payload.Prop("thread").Str("id") is { } t && ctx.UserAThreads.Contains(t)).ToList();
            if (leaked.Count > 0)
            {
                throw new CheckFailedException(
                    $"user B's socket received {leaked.Count} of user A's events: {string.Join(", ", leaked.Take(6))} (run {leaked[0].RunId ?? "-"}, thread {leaked[0].ThreadId ?? "-"})");
            }

            if (frames.Count > 0)
            {
                throw new CheckFailedException($"user B's socket received {frames.Count} events although user B did nothing: {string.Join(", ", frames.Take(6))}");
            }

            if (observer.IsClosed)
            {
                throw new CheckFailedException($"user B's socket closed while user A's runs went{observer.CloseText()}");
            }

            return $"user B's socket stayed open through {ctx.UserARuns.Count} of user A's runs and received only connection_established";
        }, ct, needs: [Facts.Observer, Facts.AgentRun]);

        await ctx.CheckAsync("isolation.foreign_run", "user B cannot read or stop user A's run", async _ =>
        {
            var run = ctx.UserARuns.First();
            var b = ctx.UserB!.AccessToken;
            var read = await ctx.Http.GetAsync(ctx.Endpoints.ApiPath($"api/runs/{run}"), b, ct);
            if (read.Status != 404)
            {
                throw new CheckFailedException($"user B reading user A's run: {read.Describe()}, expected 404");
            }

            var events = await ctx.Http.GetAsync(ctx.Endpoints.ApiPath($"api/runs/{run}/events"), b, ct);
            if (events.Status != 404)
            {
                throw new CheckFailedException($"user B reading user A's run events: {events.Describe()}, expected 404");
            }

            var observer = ctx.Observer!;
            await observer.SendJsonAsync(new { type = "stop_agent", id = "verify-stop-foreign", payload = new { run_id = run } }, ct);
            var reply = await observer.WaitForAsync(f => f.Type is "ack" or "error" && f.Payload.Str("client_id") == "verify-stop-foreign",
                s.FrameTimeout, "reply to stop_agent", ct);
            if (reply.Type != "error" || reply.Payload.Str("code") != "not_found")
            {
                throw new CheckFailedException($"stop_agent of user A's run by user B answered {reply.Type} {reply.Payload.Str("code")}, expected error not_found");
            }

            return "GET /api/runs/{id} and its events -> 404 for user B; stop_agent -> error not_found";
        }, ct, needs: [Facts.Observer, Facts.AgentRun]);
    }
}
