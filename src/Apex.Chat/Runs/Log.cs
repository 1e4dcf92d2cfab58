using Microsoft.Extensions.Logging;

namespace Apex.Chat.Runs;

internal static partial class Log
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Run {RunId} started in thread {ThreadId} for user {UserId}")]
    public static partial void RunStarted(ILogger logger, string runId, string threadId, string userId);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Run {RunId} finished with status {Status} after {DurationMs} ms")]
    public static partial void RunFinished(ILogger logger, string runId, string status, long durationMs);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Error, Message = "Run {RunId}: the agent failed")]
    public static partial void AgentFailed(ILogger logger, Exception exception, string runId);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "Run {RunId}: the agent ended without a terminal event")]
    public static partial void AgentIncomplete(ILogger logger, string runId);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Error, Message = "Run {RunId}: publishing a {EventType} event failed")]
    public static partial void PublishFailed(ILogger logger, Exception exception, string runId, string eventType);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Warning, Message = "Run {RunId}: storing its state failed (the thread may have been deleted)")]
    public static partial void PersistFailed(ILogger logger, Exception exception, string runId);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Warning, Message = "Marked {Count} runs left active by a previous process as failed")]
    public static partial void StaleRunsFailed(ILogger logger, int count);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Error, Message = "Could not mark runs left active by a previous process as failed")]
    public static partial void StaleRunsCheckFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3009, Level = LogLevel.Information, Message = "Shutting down: cancelling {Count} active runs")]
    public static partial void CancellingForShutdown(ILogger logger, int count);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Warning, Message = "Shutdown grace period ended with {Count} runs still finishing")]
    public static partial void ShutdownGraceExceeded(ILogger logger, int count);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Warning, Message = "Publishing {EventType} for thread {ThreadId} failed")]
    public static partial void ThreadEventFailed(ILogger logger, Exception exception, string eventType, string threadId);

    [LoggerMessage(EventId = 3012, Level = LogLevel.Error, Message = "Run {RunId}: the run executor failed")]
    public static partial void ExecutorFailed(ILogger logger, Exception exception, string runId);
}
