using System.ComponentModel.DataAnnotations;

namespace Apex.Chat;

/// <summary>Section <c>Chat</c>: limits of threads, messages and runs.</summary>
public sealed class ChatOptions
{
    public const string Section = "Chat";
    public const int DefaultRunTimeoutSeconds = 900;
    public const int DefaultShutdownGraceSeconds = 5;
    public const int DefaultHistoryMessages = 40;
    public const int DefaultMaxConcurrentRunsPerUser = 3;

    /// <summary>A run still going after this many seconds ends with <c>agent_error</c> <c>run_timeout</c>.</summary>
    [Range(1, 86_400)]
    public int RunTimeoutSeconds { get; set; } = DefaultRunTimeoutSeconds;

    /// <summary>How long shutdown waits for cancelled runs to publish and persist their last event.</summary>
    [Range(0, 60)]
    public int ShutdownGraceSeconds { get; set; } = DefaultShutdownGraceSeconds;

    /// <summary>How many earlier messages of the thread the agent receives as history.</summary>
    [Range(0, 1_000)]
    public int HistoryMessages { get; set; } = DefaultHistoryMessages;

    /// <summary>
    /// Runs one user may have queued or running at once, across all nodes (counted in the database);
    /// one more is refused with <c>too_many_runs</c> (REST: 429).
    /// </summary>
    [Range(1, 1_000)]
    public int MaxConcurrentRunsPerUser { get; set; } = DefaultMaxConcurrentRunsPerUser;
}

public static class ChatLimits
{
    public const int MaxTitleLength = 200;

    /// <summary>Characters of a user message; a WebSocket frame (64 KiB) cannot carry much more anyway.</summary>
    public const int MaxMessageLength = 32_000;
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 200;
    public const int DerivedTitleLength = 80;
    public const string DefaultTitle = "New thread";
}
