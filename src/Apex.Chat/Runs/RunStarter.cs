using Apex.Agents.Data;
using Apex.Chat.Api;
using Apex.Chat.Data;
using Apex.Contracts;
using Apex.Realtime.Gateway;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Apex.Chat.Runs;

/// <summary>Protocol error codes of run commands (docs/spec/realtime-protocol.md), shared with the REST routes.</summary>
internal static class RunErrors
{
    public const string NotFound = "not_found";
    public const string RunActive = "run_active";
    public const string InvalidMessage = "invalid_message";
    public const string RunNotActive = "run_not_active";
    public const string AgentFailed = "agent_failed";
    public const string AgentIncomplete = "agent_incomplete";
    public const string AgentUnavailable = "agent_unavailable";
    public const string RunTimeout = "run_timeout";
    public const string ServerShutdown = "server_shutdown";
    public const string TooManyRuns = "too_many_runs";
}

/// <summary>What went wrong when a run could not start; <see cref="Field"/> names the offending input.</summary>
internal sealed record StartRunError(string Code, string Message, string Field);

internal sealed record StartRunResult(StartRunError? Error, ChatThread? Thread, ChatMessage? Message, ChatRun? Run, bool ThreadCreated)
{
    public static StartRunResult Fail(string code, string message, string field) => new(new StartRunError(code, message, field), null, null, null, false);
}

/// <summary>
/// Admits runs: validates the message, then stores it with the run record and the thread's claim, in
/// one transaction that also holds the user's concurrent-run cap, before anything about the run is
/// announced. The admitted run is handed to the <see cref="RunDriver"/>, queued until it executes.
/// </summary>
internal sealed class RunStarter(
    IServiceScopeFactory scopes,
    IServiceProvider services,
    RunRegistry registry,
    ThreadAnnouncer announcer,
    RunDriver driver,
    IOptions<ChatOptions> options,
    TimeProvider time,
    ILogger<RunStarter> logger) : IRunCommandHandler
{
    private static readonly string[] TerminalStatuses = [RunStatus.Completed, RunStatus.Failed, RunStatus.Cancelled];

    async Task<RunCommandResult> IRunCommandHandler.StartRunAsync(StartRunCommand command, CancellationToken ct)
    {
        var result = await StartAsync(command, ct);
        return result.Error is { } error
            ? RunCommandResult.Failure(error.Code, error.Message)
            : RunCommandResult.Success(result.Thread!.Id, result.Run!.Id);
    }

    async Task<RunCommandResult> IRunCommandHandler.StopRunAsync(string userId, string runId, CancellationToken ct)
    {
        // The gateway acks after this returns, and the protocol orders the ack before the run's
        // cancelled agent_completed: the cancellation starts a moment later, well inside the 1 s bound.
        var (error, run) = await driver.StopAsync(userId, runId, StopAckHeadStart, ct);
        return error is not null ? RunCommandResult.Failure(error.Code, error.Message) : RunCommandResult.Success(run!.ThreadId, run.Id);
    }

    private static readonly TimeSpan StopAckHeadStart = TimeSpan.FromMilliseconds(50);

    public async Task<StartRunResult> StartAsync(StartRunCommand command, CancellationToken ct)
    {
        var text = command.Text?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            return StartRunResult.Fail(RunErrors.InvalidMessage, "The message text is empty.", "content");
        }

        if (text.Length > ChatLimits.MaxMessageLength)
        {
            return StartRunResult.Fail(RunErrors.InvalidMessage, $"The message is longer than {ChatLimits.MaxMessageLength} characters.", "content");
        }

        if (command.ThreadId is not null && !ApexIds.HasPrefix(command.ThreadId, ApexIds.Thread))
        {
            return StartRunResult.Fail(RunErrors.NotFound, "Thread not found.", "thread_id");
        }

        var datasetId = command.DatasetId;
        if (datasetId is not null)
        {
            // No dataset module in this process means no datasets: any id is unknown.
            var datasets = services.GetService<IUsageDataSource>();
            if (datasetId.Length == 0 || datasets is null || !await datasets.ExistsAsync(command.UserId, datasetId, ct))
            {
                return StartRunResult.Fail(RunErrors.NotFound, "Dataset not found.", "dataset_id");
            }
        }

        var now = time.GetUtcNow();
        var runId = ApexIds.New(ApexIds.Run);
        var message = new ChatMessage
        {
            Id = ApexIds.New(ApexIds.Message),
            ThreadId = command.ThreadId ?? ApexIds.New(ApexIds.Thread),
            UserId = command.UserId,
            Role = MessageRole.User,
            Content = text,
            RunId = runId,
            DatasetId = datasetId,
            CreatedAt = now,
        };
        var active = new ActiveRun(runId, message.ThreadId, command.UserId, message.Id, text);
        // Registered before it is stored, so a stop arriving between the commit and the start finds it.
        registry.Add(active);
        StartRunResult result;
        try
        {
            result = await StoreAsync(command.ThreadId is null, message, runId, now, ct);
        }
        catch
        {
            registry.Remove(active);
            active.Cancellation.Dispose();
            throw;
        }

        if (result.Error is not null)
        {
            registry.Remove(active);
            active.Cancellation.Dispose();
            return result;
        }

        ChatMetrics.RunsStarted.Inc();
        Log.RunStarted(logger, runId, message.ThreadId, command.UserId);
        active.DatasetId = result.Run!.DatasetId;
        if (result.ThreadCreated)
        {
            await announcer.AnnounceAsync(command.UserId, EventTypes.ThreadCreated, result.Thread!.ToResponse());
        }

        driver.Launch(active);
        return result;
    }

    /// <summary>Claims the thread for the run and stores the message and the run, in one transaction.</summary>
    private async Task<StartRunResult> StoreAsync(bool newThread, ChatMessage message, string runId, DateTimeOffset now, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ChatDbContext>();
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        await LockUserRunsAsync(db, message.UserId, ct);
        ChatThread thread;
        if (newThread)
        {
            thread = new ChatThread
            {
                Id = message.ThreadId,
                UserId = message.UserId,
                Title = DeriveTitle(message.Content),
                CreatedAt = now,
                UpdatedAt = now,
                LastRunStatus = RunStatus.Queued,
                LastDatasetId = message.DatasetId,
                ActiveRunId = runId,
            };
            db.Threads.Add(thread);
        }
        else
        {
            var datasetId = message.DatasetId;
            // The claim is one conditional UPDATE: of two racing messages exactly one matches
            // "no active run". A claim left by a run that has ended (its final write failed) is stale
            // and may be taken over.
            var claimed = await db.Threads
                .Where(t => t.Id == message.ThreadId && t.UserId == message.UserId
                    && (t.ActiveRunId == null || db.Runs.Any(r => r.Id == t.ActiveRunId && TerminalStatuses.Contains(r.Status))))
                .ExecuteUpdateAsync(s => s
                    .SetProperty(t => t.ActiveRunId, runId)
                    .SetProperty(t => t.UpdatedAt, now)
                    .SetProperty(t => t.LastRunStatus, RunStatus.Queued)
                    .SetProperty(t => t.LastDatasetId, t => datasetId ?? t.LastDatasetId), ct);
            if (claimed == 0)
            {
                var exists = await db.Threads.AsNoTracking().AnyAsync(t => t.Id == message.ThreadId && t.UserId == message.UserId, ct);
                return exists
                    ? StartRunResult.Fail(RunErrors.RunActive, "The thread has an active run; wait for it to end or stop it.", "thread_id")
                    : StartRunResult.Fail(RunErrors.NotFound, "Thread not found.", "thread_id");
            }

            thread = await db.Threads.AsNoTracking().SingleAsync(t => t.Id == message.ThreadId && t.UserId == message.UserId, ct);
        }

        // Counted in the shared database under the user's admission lock: every node sees the same
        // count, and no other start of this user's can count or insert until this one commits.
        var userId = message.UserId;
        var active = await db.Runs.CountAsync(r => r.UserId == userId && (r.Status == RunStatus.Queued || r.Status == RunStatus.Running), ct);
        if (active >= options.Value.MaxConcurrentRunsPerUser)
        {
            await tx.RollbackAsync(ct);
            return StartRunResult.Fail(RunErrors.TooManyRuns,
                $"At most {options.Value.MaxConcurrentRunsPerUser} runs may be active at once; wait for one to end or stop it.", "content");
        }

        var run = new ChatRun
        {
            Id = runId,
            ThreadId = thread.Id,
            UserId = message.UserId,
            Status = RunStatus.Queued,
            DatasetId = message.DatasetId ?? thread.LastDatasetId,
            CreatedAt = now,
        };
        db.Messages.Add(message);
        db.Runs.Add(run);
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return new StartRunResult(null, thread, message, run, newThread);
    }

    /// <summary>
    /// Serialises the admissions of one user's runs until the transaction ends, so that counting the
    /// user's active runs and inserting the new one are atomic. Under read committed, a count alone
    /// lets two concurrent starts both see room and both insert. PostgreSQL: a transaction-scoped
    /// advisory lock on the user id (each statement after it sees what the previous holder committed).
    /// SQLite: the transaction already holds the database's write lock (BEGIN IMMEDIATE), which
    /// serialises every writer.
    /// </summary>
    private static async Task LockUserRunsAsync(ChatDbContext db, string userId, CancellationToken ct)
    {
        if (db.Database.IsNpgsql())
        {
            await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock(hashtextextended({"apex.runs:" + userId}, 0))", ct);
        }
    }

    private static string DeriveTitle(string text)
    {
        var line = text.AsSpan().Trim();
        var end = line.IndexOfAny('\r', '\n');
        if (end >= 0)
        {
            line = line[..end].TrimEnd();
        }

        return line.Length <= ChatLimits.DerivedTitleLength ? line.ToString() : string.Concat(line[..(ChatLimits.DerivedTitleLength - 1)].TrimEnd(), "…");
    }
}
