using Microsoft.Extensions.Logging;

namespace Apex.Chat.Runs;

internal static partial class Log
{
    [LoggerMessage(EventId = 4301, Level = LogLevel.Information, Message = "Run {RunId} started in thread {ThreadId} for user {UserId}")]
    public static partial void RunStarted(ILogger logger, string runId, string threadId, string userId);

    [LoggerMessage(EventId = 4302, Level = LogLevel.Information, Message = "Run {RunId} finished with status {Status} after {DurationMs} ms")]
    public static partial void RunFinished(ILogger logger, string runId, string status, long durationMs);

    [LoggerMessage(EventId = 4303, Level = LogLevel.Error, Message = "Run {RunId}: the agent failed")]
    public static partial void AgentFailed(ILogger logger, Exception exception, string runId);

    [LoggerMessage(EventId = 4304, Level = LogLevel.Warning, Message = "Run {RunId}: the agent ended without a terminal event")]
    public static partial void AgentIncomplete(ILogger logger, string runId);

    [LoggerMessage(EventId = 4305, Level = LogLevel.Error, Message = "Run {RunId}: publishing a {EventType} event failed")]
    public static partial void PublishFailed(ILogger logger, Exception exception, string runId, string eventType);

    [LoggerMessage(EventId = 4306, Level = LogLevel.Warning, Message = "Run {RunId}: storing its state failed (the thread may have been deleted)")]
    public static partial void PersistFailed(ILogger logger, Exception exception, string runId);

    [LoggerMessage(EventId = 4307, Level = LogLevel.Warning, Message = "Marked {Count} runs left active by a previous process as failed")]
    public static partial void StaleRunsFailed(ILogger logger, int count);

    [LoggerMessage(EventId = 4308, Level = LogLevel.Error, Message = "Could not mark runs left active by a previous process as failed")]
    public static partial void StaleRunsCheckFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4309, Level = LogLevel.Information, Message = "Shutting down: cancelling {Count} active runs")]
    public static partial void CancellingForShutdown(ILogger logger, int count);

    [LoggerMessage(EventId = 4310, Level = LogLevel.Warning, Message = "Shutdown grace period ended with {Count} runs still finishing")]
    public static partial void ShutdownGraceExceeded(ILogger logger, int count);

    [LoggerMessage(EventId = 4311, Level = LogLevel.Warning, Message = "Publishing {EventType} for thread {ThreadId} failed")]
    public static partial void ThreadEventFailed(ILogger logger, Exception exception, string eventType, string threadId);

    [LoggerMessage(EventId = 4312, Level = LogLevel.Error, Message = "Run {RunId}: the run driver failed")]
    public static partial void ExecutorFailed(ILogger logger, Exception exception, string runId);
}
