namespace Apex.Realtime.Broker;

/// <summary>
/// One event of a user's stream: its <see cref="Seq"/> and its UTF-8 JSON frame, serialised once
/// and shared by every subscriber and by the replay history. Only the bytes are kept: the history
/// holds up to the replay window per user, so every retained byte counts.
/// </summary>
public sealed class StreamEvent(long seq, byte[] utf8)
{
    public long Seq { get; } = seq;

    /// <summary>The complete text frame. Never modify it: it is shared.</summary>
    public byte[] Utf8 { get; } = utf8;
}

/// <summary>A position in a user's stream: the events up to and including <see cref="Seq"/> of <see cref="Epoch"/>.</summary>
public sealed record StreamPosition(string Epoch, long Seq);

/// <summary>What a subscriber learns when its subscription starts.</summary>
/// <param name="Epoch">The stream's epoch.</param>
/// <param name="LastSeq">The last <c>seq</c> assigned before live delivery starts (after the replay).</param>
/// <param name="Resume">The outcome of the requested resume; null when none was requested.</param>
/// <param name="Replay">The missed events, in order; empty unless the resume recovered them.</param>
public sealed record SubscriptionStart(string Epoch, long LastSeq, ResumeOutcome? Resume, IReadOnlyList<StreamEvent> Replay);

/// <summary>The answer to a resume request (the <c>resumed</c> frame of the protocol).</summary>
public sealed record ResumeOutcome(bool Recovered, long FromSeq, long ToSeq, int Replayed, string? Reason)
{
    public const string EpochChanged = "epoch_changed";
    public const string OutOfWindow = "out_of_window";
    public const string AheadOfStream = "position_ahead_of_stream";
}
