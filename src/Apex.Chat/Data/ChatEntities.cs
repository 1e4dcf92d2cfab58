namespace Apex.Chat.Data;

internal sealed class ChatThread
{
    public required string Id { get; set; }
    public required string UserId { get; set; }
    public required string Title { get; set; }
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Last activity (creation, edit, message, run end): the order of the thread list.</summary>
    public DateTimeOffset UpdatedAt { get; set; }
    public bool Archived { get; set; }
    public string? LastRunStatus { get; set; }

    /// <summary>The dataset of the thread's last message that named one; later runs reuse it.</summary>
    public string? LastDatasetId { get; set; }

    /// <summary>
    /// The run that holds the thread. Claimed with a conditional UPDATE (… WHERE active_run_id IS NULL),
    /// so two messages racing for the same thread cannot both start a run, even across processes.
    /// </summary>
    public string? ActiveRunId { get; set; }
}

internal sealed class ChatMessage
{
    public required string Id { get; set; }
    public required string ThreadId { get; set; }
    public required string UserId { get; set; }
    public required string Role { get; set; }
    public required string Content { get; set; }
    public string? RunId { get; set; }
    public string? DatasetId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

internal sealed class ChatRun
{
    public required string Id { get; set; }
    public required string ThreadId { get; set; }
    public required string UserId { get; set; }
    public required string Status { get; set; }
    public string? DatasetId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }

    /// <summary>payload.report of the final agent_completed, as JSON text.</summary>
    public string? Report { get; set; }
    public string? ErrorCode { get; set; }
    public string? ErrorMessage { get; set; }
}

/// <summary>An envelope exactly as it was published to the user's stream (with its seq).</summary>
internal sealed class ChatRunEvent
{
    public long Id { get; set; }
    public required string RunId { get; set; }
    public required string UserId { get; set; }
    public long Seq { get; set; }
    public required string Type { get; set; }
    public required string Envelope { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

internal static class RunStatus
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static bool IsActive(string status) => status is Queued or Running;
}

internal static class MessageRole
{
    public const string User = "user";
    public const string Assistant = "assistant";
}
