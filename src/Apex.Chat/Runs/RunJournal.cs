using System.Text;
using System.Text.Json;
using Apex.Agents.Runtime;
using Apex.Chat.Api;
using Apex.Chat.Data;
using Apex.Contracts;
using Apex.Realtime.Broker;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Apex.Chat.Runs;

/// <summary>The run record's final state, stored together with its terminal event.</summary>
internal sealed record RunFinal(string Status, string? Report, string? ErrorCode, string? ErrorMessage);

/// <summary>
/// The run journal: the one path by which a run's events reach the owner's stream and the run's
/// stored event log (publish, then store), and by which every run ends: the driver's runs (completed,
/// failed, cancelled, timed out, stopped by shutdown) and runs no process executes any more (a killed
/// process, a lost node). One path means one envelope format: GET /api/runs/{id}/events serves exactly
/// the bytes the gateway sent.
/// </summary>
internal sealed class RunJournal(IServiceProvider services, RunRegistry registry, TimeProvider time, ILogger<RunJournal> logger)
{
    private static readonly JsonElement EmptyObject = ChatMapping.ParseElement("{}");

    /// <summary>
    /// Publishes <paramref name="agentEvent"/> to the owner's stream, then stores the envelope as
    /// published (with its seq). With <paramref name="final"/>, the run record turns final in the same
    /// transaction as its terminal event row, so a REST client that sees a finished run finds every
    /// event of it. A broker failure does not stop the final state from being stored.
    /// </summary>
    public async Task PublishAsync(ChatDbContext? db, RunRef run, AgentEvent agentEvent, RunFinal? final = null)
    {
        var envelope = new EventEnvelope
        {
            Type = agentEvent.Type,
            RunId = run.RunId,
            ThreadId = run.ThreadId,
            AgentName = agentEvent.AgentName,
            Timestamp = time.GetUtcNow(),
            Payload = agentEvent.Payload.ValueKind == JsonValueKind.Undefined ? EmptyObject : agentEvent.Payload,
        };

        EventEnvelope? published = null;
        try
        {
            published = await services.GetRequiredService<IEventBroker>().PublishAsync(run.UserId, envelope, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.PublishFailed(logger, ex, run.RunId, agentEvent.Type);
        }

        if (db is null || (published is null && final is null))
        {
            return;
        }

        try
        {
            await using var tx = final is null ? null : await db.Database.BeginTransactionAsync();
            if (published is not null)
            {
                db.RunEvents.Add(new ChatRunEvent
                {
                    RunId = run.RunId,
                    UserId = run.UserId,
                    Seq = published.Seq ?? 0,
                    Type = published.Type,
                    // Stored byte for byte as the gateway frames it.
                    Envelope = Encoding.UTF8.GetString(EnvelopeSerializer.Serialize(published)),
                    CreatedAt = published.Timestamp,
                });
                await db.SaveChangesAsync();
            }

            if (final is not null)
            {
                var now = time.GetUtcNow();
                await db.Runs.Where(r => r.Id == run.RunId).ExecuteUpdateAsync(s => s
                    .SetProperty(r => r.Status, final.Status)
                    .SetProperty(r => r.StartedAt, r => r.StartedAt ?? now)
                    .SetProperty(r => r.FinishedAt, now)
                    .SetProperty(r => r.Report, final.Report)
                    .SetProperty(r => r.ErrorCode, final.ErrorCode)
                    .SetProperty(r => r.ErrorMessage, final.ErrorMessage));
                await tx!.CommitAsync();
            }
        }
        catch (Exception ex) when (ex is DbUpdateException or InvalidOperationException or System.Data.Common.DbException)
        {
            Log.PersistFailed(logger, ex, run.RunId);
        }
        finally
        {
            db.ChangeTracker.Clear();
        }
    }

    /// <summary>
    /// Ends a run this process executed. The answer is stored and the thread released before the
    /// terminal event is sent (docs/spec/realtime-protocol.md section 4): a client that sees the end can
    /// reload the thread and find the answer. The run leaves the registry before the terminal event
    /// goes out, so a client that sees the end and sends stop_agent learns that it is no longer active.
    /// The run record turns final together with its terminal event row.
    /// </summary>
    public async Task EndAsync(ChatDbContext? db, RunRef run, AgentEvent terminal, RunFinal final, string? answer)
    {
        if (db is not null)
        {
            await StoreAnswerAsync(db, run, final.Status, answer);
        }

        registry.Remove(run.RunId);
        await PublishAsync(db, run, terminal, final);
    }

    /// <summary>Stores the assistant's answer (when the thread still exists) and releases the thread's claim, in one transaction.</summary>
    private async Task StoreAnswerAsync(ChatDbContext db, RunRef run, string status, string? answer)
    {
        var now = time.GetUtcNow();
        try
        {
            db.ChangeTracker.Clear();
            await using var tx = await db.Database.BeginTransactionAsync();
            if (!string.IsNullOrEmpty(answer) && await db.Threads.AnyAsync(t => t.Id == run.ThreadId && t.UserId == run.UserId))
            {
                db.Messages.Add(new ChatMessage
                {
                    Id = ApexIds.New(ApexIds.Message),
                    ThreadId = run.ThreadId,
                    UserId = run.UserId,
                    Role = MessageRole.Assistant,
                    Content = answer,
                    RunId = run.RunId,
                    CreatedAt = now,
                });
                await db.SaveChangesAsync();
            }

            await ReleaseThreadAsync(db, run, status, now, CancellationToken.None);
            await tx.CommitAsync();
        }
        catch (Exception ex) when (ex is DbUpdateException or InvalidOperationException or System.Data.Common.DbException)
        {
            db.ChangeTracker.Clear();
            Log.PersistFailed(logger, ex, run.RunId);
        }
    }

    /// <summary>Releases the thread's claim if this run still holds it.</summary>
    private static Task<int> ReleaseThreadAsync(ChatDbContext db, RunRef run, string status, DateTimeOffset now, CancellationToken ct) =>
        db.Threads.Where(t => t.Id == run.ThreadId && t.ActiveRunId == run.RunId).ExecuteUpdateAsync(s => s
            .SetProperty(t => t.ActiveRunId, (string?)null)
            .SetProperty(t => t.LastRunStatus, status)
            .SetProperty(t => t.UpdatedAt, now), ct);

    /// <summary>
    /// Ends a run that no process executes any more with <c>agent_error</c> (<paramref name="code"/>,
    /// <c>final: true</c>), stored and published like any other run's end. The claim is conditional:
    /// of several nodes noticing the same orphan, exactly one ends it. False when it had ended already.
    /// </summary>
    public async Task<bool> FailOrphanAsync(ChatDbContext db, RunRef run, string code, string message, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var claimed = await db.Runs.Where(r => r.Id == run.RunId && (r.Status == RunStatus.Queued || r.Status == RunStatus.Running))
            .ExecuteUpdateAsync(s => s
                .SetProperty(r => r.Status, RunStatus.Failed)
                .SetProperty(r => r.StartedAt, r => r.StartedAt ?? now)
                .SetProperty(r => r.FinishedAt, now)
                .SetProperty(r => r.ErrorCode, code)
                .SetProperty(r => r.ErrorMessage, message), ct);
        if (claimed == 0)
        {
            return false;
        }

        await ReleaseThreadAsync(db, run, RunStatus.Failed, now, ct);
        // The claim above already wrote the run's final state: only the terminal event is left to publish and store.
        await PublishAsync(db, run, AgentEvent.Error(AgentEvent.TopAgent, code, message, final: true));
        return true;
    }
}
