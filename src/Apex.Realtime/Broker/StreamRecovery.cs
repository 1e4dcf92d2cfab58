using System.Security.Cryptography;

namespace Apex.Realtime.Broker;

/// <summary>
/// The resume rules of docs/spec/realtime-protocol.md (section 1, "Resume"), written once for every
/// broker: given a stream's epoch and last <c>seq</c>, what its history still holds, and the position
/// a client resumes from, whether the missed events are recovered and which ones to replay.
/// </summary>
/// <remarks>
/// The decision has two steps because a broker may have to fetch the history (the Redis broker reads
/// it from Redis): <see cref="Plan"/> decides what the stream's position alone decides, and
/// <see cref="Complete"/> decides the rest from the history that was fetched.
/// </remarks>
public static class StreamRecovery
{
    /// <summary>A new random epoch: 12 URL-safe characters, never reused by a stream that lost its history.</summary>
    public static string NewEpoch()
    {
        Span<byte> bytes = stackalloc byte[9];
        RandomNumberGenerator.Fill(bytes);
        return Convert.ToBase64String(bytes).Replace('+', '-').Replace('/', '_');
    }

    /// <summary>
    /// The first step: a resume from another epoch or from beyond the stream's end is refused, and a
    /// resume from the stream's end recovers nothing to replay; anything else needs the history.
    /// </summary>
    public static ResumePlan Plan(string epoch, long lastSeq, StreamPosition from)
    {
        ArgumentNullException.ThrowIfNull(from);
        var fromSeq = from.Seq + 1;
        if (!string.Equals(from.Epoch, epoch, StringComparison.Ordinal))
        {
            return new ResumePlan(from, lastSeq, new ResumeOutcome(false, fromSeq, lastSeq, 0, ResumeOutcome.EpochChanged));
        }

        if (from.Seq > lastSeq)
        {
            return new ResumePlan(from, lastSeq, new ResumeOutcome(false, fromSeq, lastSeq, 0, ResumeOutcome.AheadOfStream));
        }

        return from.Seq == lastSeq
            ? new ResumePlan(from, lastSeq, new ResumeOutcome(true, fromSeq, lastSeq, 0, null))
            : new ResumePlan(from, lastSeq, null);
    }

    /// <summary>
    /// The second step: the outcome and the events to replay, from <paramref name="history"/> (events
    /// in ascending <c>seq</c>, of the same epoch; it may hold events before and after the missed
    /// range, or be null when the history is gone). Recovered only when every missed event is there.
    /// </summary>
    public static (ResumeOutcome Outcome, IReadOnlyList<StreamEvent> Replay) Complete(ResumePlan plan, IEnumerable<StreamEvent>? history)
    {
        if (plan.Decided is { } decided)
        {
            return (decided, []);
        }

        var fromSeq = plan.From.Seq + 1;
        var replay = Slice(history, plan.From.Seq, plan.LastSeq);
        return replay is null
            ? (new ResumeOutcome(false, fromSeq, plan.LastSeq, 0, ResumeOutcome.OutOfWindow), [])
            : (new ResumeOutcome(true, fromSeq, plan.LastSeq, replay.Count, null), replay);
    }

    /// <summary>
    /// The events after <paramref name="after"/> up to <paramref name="upTo"/> taken from
    /// <paramref name="history"/> (ascending <c>seq</c>), or null when any of them is missing.
    /// </summary>
    public static List<StreamEvent>? Slice(IEnumerable<StreamEvent>? history, long after, long upTo)
    {
        if (history is null || upTo < after)
        {
            return null;
        }

        var slice = new List<StreamEvent>((int)Math.Min(upTo - after, 1 << 16));
        var expected = after + 1;
        foreach (var e in history)
        {
            if (e.Seq < expected)
            {
                continue;
            }

            if (e.Seq != expected || e.Seq > upTo)
            {
                break;
            }

            slice.Add(e);
            expected++;
        }

        return expected == upTo + 1 ? slice : null;
    }
}

/// <summary>
/// What <see cref="StreamRecovery.Plan"/> decided: either the outcome (<see cref="Decided"/>), or that
/// the events after <see cref="From"/> up to <see cref="LastSeq"/> must be read from the history.
/// </summary>
public readonly record struct ResumePlan(StreamPosition From, long LastSeq, ResumeOutcome? Decided)
{
    public bool NeedsHistory => Decided is null;

    /// <summary>How many events the client missed (when <see cref="NeedsHistory"/>).</summary>
    public long Missed => LastSeq - From.Seq;
}
