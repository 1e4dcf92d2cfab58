using System.Collections.Concurrent;

namespace Apex.Chat.Runs;

/// <summary>Why a run's token was cancelled; decides its terminal event.</summary>
public enum CancelReason
{
    None,
    UserStop,
    ThreadDeleted,
    Timeout,
    Shutdown,
}

/// <summary>A run executing in this process: what stop/cancel and shutdown need to reach it.</summary>
internal sealed class ActiveRun
{
    private int _reason;

    public ActiveRun(string runId, string threadId, string userId, string userMessageId, string text)
    {
        RunId = runId;
        ThreadId = threadId;
        UserId = userId;
        UserMessageId = userMessageId;
        Text = text;
    }

    public string RunId { get; }
    public string ThreadId { get; }
    public string UserId { get; }
    public string UserMessageId { get; }
    public string Text { get; }
    public string? DatasetId { get; set; }
    public CancellationTokenSource Cancellation { get; } = new();

    /// <summary>Completes when the run has published and persisted its terminal event.</summary>
    public Task Completion { get; set; } = Task.CompletedTask;

    /// <summary>The first reason wins: a stop followed by shutdown stays a user stop.</summary>
    public CancelReason Reason
    {
        get
        {
            var reason = (CancelReason)Volatile.Read(ref _reason);
            // A token cancelled by CancelAfter carries no reason of its own.
            return reason == CancelReason.None && Cancellation.IsCancellationRequested ? CancelReason.Timeout : reason;
        }
    }

    public void Cancel(CancelReason reason)
    {
        Interlocked.CompareExchange(ref _reason, (int)reason, (int)CancelReason.None);
        try
        {
            Cancellation.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The run has already ended and released its token.
        }
    }
}

/// <summary>The runs executing in this process, by id.</summary>
internal sealed class RunRegistry
{
    private readonly ConcurrentDictionary<string, ActiveRun> _runs = new(StringComparer.Ordinal);

    public int Count => _runs.Count;

    public void Add(ActiveRun run)
    {
        if (!_runs.TryAdd(run.RunId, run))
        {
            throw new InvalidOperationException("Run ids are unique.");
        }
    }

    public void Remove(ActiveRun run) => _runs.TryRemove(new KeyValuePair<string, ActiveRun>(run.RunId, run));

    /// <summary>Removes the run by id; run ids are unique, so this is the run that was added under it.</summary>
    public void Remove(string runId) => _runs.TryRemove(runId, out _);

    /// <summary>The run if it executes here and belongs to <paramref name="userId"/>.</summary>
    public ActiveRun? Find(string userId, string runId) =>
        _runs.TryGetValue(runId, out var run) && string.Equals(run.UserId, userId, StringComparison.Ordinal) ? run : null;

    public ActiveRun? FindByThread(string userId, string threadId) =>
        _runs.Values.FirstOrDefault(r => r.ThreadId == threadId && r.UserId == userId);

    public IReadOnlyList<ActiveRun> Snapshot() => [.. _runs.Values];
}
