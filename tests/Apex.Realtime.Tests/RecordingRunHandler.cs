using System.Collections.Concurrent;
using Apex.Realtime.Gateway;

namespace Apex.Realtime.Tests;

/// <summary>
/// Stands in for the chat module at the gateway's seam: the gateway's own behaviour (parsing, aliases,
/// ack/error from the result) is what these tests check, not run execution.
/// </summary>
internal sealed class RecordingRunHandler : IRunCommandHandler
{
    public ConcurrentQueue<StartRunCommand> Started { get; } = new();
    public ConcurrentQueue<(string UserId, string RunId)> Stopped { get; } = new();

    public Task<RunCommandResult> StartRunAsync(StartRunCommand command, CancellationToken ct)
    {
        Started.Enqueue(command);
        return Task.FromResult(command.ThreadId == "thr_busy"
            ? RunCommandResult.Failure("run_active", "The thread has an active run.")
            : RunCommandResult.Success(command.ThreadId ?? "thr_new", "run_" + Started.Count));
    }

    public Task<RunCommandResult> StopRunAsync(string userId, string runId, CancellationToken ct)
    {
        Stopped.Enqueue((userId, runId));
        return Task.FromResult(runId == "run_mine"
            ? RunCommandResult.Success("thr_1", runId)
            : RunCommandResult.Failure("not_found", "No such run."));
    }
}
