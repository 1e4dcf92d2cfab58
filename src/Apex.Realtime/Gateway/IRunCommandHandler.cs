using System.Text.Json;

namespace Apex.Realtime.Gateway;

/// <summary>
/// What the WebSocket gateway asks of the chat module when a client sends <c>user_message</c>
/// (or an alias, or <c>start_agent</c>) and <c>stop_agent</c>. The gateway answers the client with
/// <c>ack</c> or <c>error</c> from the result; the run's events reach the client through the broker.
/// </summary>
public interface IRunCommandHandler
{
    Task<RunCommandResult> StartRunAsync(StartRunCommand command, CancellationToken ct);

    Task<RunCommandResult> StopRunAsync(string userId, string runId, CancellationToken ct);
}

/// <param name="UserId">The authenticated user sending the message.</param>
/// <param name="Text">The user's message text.</param>
/// <param name="ThreadId">The thread to post to; a new thread is created when null.</param>
/// <param name="DatasetId">The dataset to analyse, if the client named one.</param>
/// <param name="Context">The optional <c>context</c> of <c>start_agent</c>.</param>
public sealed record StartRunCommand(string UserId, string Text, string? ThreadId, string? DatasetId, JsonElement? Context = null);

/// <summary>
/// <see cref="ErrorCode"/> is null on success; otherwise a protocol error code such as
/// <c>not_found</c>, <c>run_active</c> or <c>invalid_message</c>, sent to the client in an <c>error</c> frame.
/// </summary>
public sealed record RunCommandResult(string? ErrorCode, string? ErrorMessage, string? ThreadId, string? RunId)
{
    public bool Ok => ErrorCode is null;

    public static RunCommandResult Success(string threadId, string runId) => new(null, null, threadId, runId);

    public static RunCommandResult Failure(string code, string message) => new(code, message, null, null);
}
