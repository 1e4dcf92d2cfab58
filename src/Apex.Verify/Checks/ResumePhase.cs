using Apex.Verify.Probe;

namespace Apex.Verify.Checks;

/// <summary>Phase 8: cut the socket mid-run, reconnect with epoch and last_seq: no gap, no duplicate.</summary>
internal static class ResumePhase
{
    public static async Task RunAsync(VerifyContext ctx, CancellationToken ct)
    {
        var e = ctx.Endpoints;
        var s = ctx.Settings;
        ProbeSocket? resumed = null;
        var trace = new RunTrace();
        long cutAt = 0;
        long? replayTo = null;
        long? replayed = null;
        try
        {
            await ctx.CheckAsync("resume.reconnect", "cut mid-run, reconnect with epoch and last_seq", async _ =>
            {
                if (ctx.Lacks(Facts.AgentRun))
                {
                    throw new CheckSkippedException(ctx.WhyMissing(Facts.AgentRun)!);
                }

                var attempt = await ProbeSocket.ConnectAsync(e.Ws, ctx.UserA!.AccessToken, [], null, s.FrameTimeout, ct);
                var first = attempt.Socket ?? throw new CheckFailedException($"{e.Ws}: {attempt.Error}");
                string epoch;
                await using (first)
                {
                    var established = await WebSocketPhase.ExpectEstablishedAsync(ctx, first, ctx.UserA.UserId, ct);
                    epoch = WebSocketPhase.Epoch(established) ?? throw new CheckFailedException("connection_established has no epoch");
                    await AgentPhase.StartRunAsync(ctx, first, trace, "verify-resume-1", null, ct);
                    cutAt = trace.Events[0].Seq ?? throw new CheckFailedException($"{trace.Events[0]} has no seq");
                    // A network failure, not a close: the server learns of it only when a send fails.
                    first.Abort();
                }

                await Task.Delay(s.ResumeGap, ct);

                var query = $"epoch={Uri.EscapeDataString(epoch)}&last_seq={cutAt}";
                var again = await ProbeSocket.ConnectAsync(e.WsWith(query), ctx.UserA.AccessToken, [], null, s.FrameTimeout, ct);
                resumed = again.Socket ?? throw new CheckFailedException($"reconnect with {query}: {again.Error}");
                var reestablished = await WebSocketPhase.ExpectEstablishedAsync(ctx, resumed, ctx.UserA.UserId, ct);
                if (WebSocketPhase.Epoch(reestablished) != epoch)
                {
                    throw new CheckSkippedException($"the epoch changed across the reconnect ({epoch} -> {WebSocketPhase.Epoch(reestablished)}): the server lost its history");
                }

                var resumedFrame = await resumed.NextAsync(s.FrameTimeout, ct)
                    ?? throw new CheckFailedException($"no frame after connection_established within {s.FrameTimeout.TotalSeconds:0.#} s; expected resumed");
                if (resumedFrame.Type != "resumed")
                {
                    throw new CheckFailedException($"the frame after connection_established is {resumedFrame}, expected resumed");
                }

                var p = resumedFrame.Payload;
                if (p.Bool("recovered") != true)
                {
                    throw new CheckFailedException($"resumed with recovered {p.Bool("recovered")?.ToString() ?? "missing"}: {p.Str("reason") ?? "no reason"}");
                }

                replayTo = p.Long("to_seq");
                replayed = p.Long("replayed");
                if (replayed is null || p.Long("from_seq") is null || replayTo is null)
                {
                    throw new CheckFailedException("resumed lacks from_seq, to_seq or replayed");
                }

                return $"cut after seq {cutAt}; resumed: recovered, from_seq {p.Long("from_seq")}, to_seq {replayTo}, replayed {replayed}";
            }, ct, needs: [Facts.Session], provides: Facts.Resumed);

            await ctx.CheckAsync("resume.replay", "replay then live: no gap, no duplicate", async _ =>
            {
                var stream = new RunTrace();
                // The same run continues: its events up to the cut were seen on the first socket.
                foreach (var f in trace.Events)
                {
                    stream.Add(f);
                }

                var afterCut = new List<Frame>();
                var deadline = resumed!.Now + s.AgentCompletionTimeout;
                while (!stream.Finished)
                {
                    var left = deadline - resumed.Now;
                    var frame = left > TimeSpan.Zero ? await resumed.NextAsync(left, ct) : null;
                    if (frame is null)
                    {
                        throw new CheckFailedException($"no terminal event of {trace.RunId} within {s.AgentCompletionTimeout.TotalSeconds:0.#} s of the reconnect; after the cut: {string.Join(", ", afterCut.TakeLast(6))}");
                    }

                    if (frame.Seq is not null)
                    {
                        afterCut.Add(frame);
                    }

                    stream.Add(frame);
                }

                var problems = RunTrace.SeqProblems(afterCut, cutAt);
                var duplicates = afterCut.GroupBy(f => f.Seq).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
                if (duplicates.Count > 0)
                {
                    problems.Add($"seq {string.Join(", ", duplicates)} delivered twice");
                }

                var replayedSeen = afterCut.Count(f => f.Seq <= replayTo);
                if (replayed is { } count && replayedSeen != count)
                {
                    problems.Add($"resumed announced {count} replayed events, {replayedSeen} arrived up to seq {replayTo}");
                }

                if (problems.Count > 0)
                {
                    throw new CheckFailedException(string.Join("; ", problems));
                }

                return $"{afterCut.Count} events after the cut (seq {cutAt + 1}..{afterCut[^1].Seq}): {replayedSeen} replayed, {afterCut.Count - replayedSeen} live, ending with {stream.Terminal}";
            }, ct, needs: [Facts.Resumed]);

            await ctx.CheckAsync("resume.stale_epoch", "an unknown epoch: recovered false", async _ =>
            {
                var query = "epoch=verify-unknown-epoch&last_seq=1";
                var attempt = await ProbeSocket.ConnectAsync(e.WsWith(query), ctx.UserA!.AccessToken, [], null, s.FrameTimeout, ct);
                var socket = attempt.Socket ?? throw new CheckFailedException($"reconnect with {query}: {attempt.Error}");
                await using (socket)
                {
                    await WebSocketPhase.ExpectEstablishedAsync(ctx, socket, ctx.UserA.UserId, ct);
                    var frame = await socket.WaitForAsync(f => f.Type == "resumed", s.FrameTimeout, "resumed", ct);
                    if (frame.Payload.Bool("recovered") != false || frame.Payload.Str("reason") is null)
                    {
                        throw new CheckFailedException($"resumed for an unknown epoch: recovered {frame.Payload.Bool("recovered")}, reason '{frame.Payload.Str("reason")}'; expected recovered false with a reason");
                    }

                    return $"resumed: recovered false ({frame.Payload.Str("reason")})";
                }
            }, ct, needs: [Facts.Session]);
        }
        finally
        {
            if (resumed is not null)
            {
                await resumed.DisposeAsync();
            }
        }
    }
}
