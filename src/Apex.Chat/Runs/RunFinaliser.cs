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

/// <summary>The run an event belongs to.</summary>
internal sealed record RunRef(string RunId, string UserId, string ThreadId);

/// <summary>The run record's final state, stored together with its terminal event.</summary>
internal sealed record RunFinal(string Status, string? Report, string? ErrorCode, string? ErrorMessage);

/// <summary>
/// The one path by which a run's events reach the owner's stream and the run's stored event log, and
/// by which every run ends: the executor's runs (completed, failed, cancelled, timed out, stopped by
/// shutdown) and runs no process executes any more (a killed process, a lost node). One path means
/// one envelope format: GET /api/runs/{id}/events serves exactly the bytes the gateway sent.
/// </summary>
internal sealed class RunFinaliser(IServiceProvider services, TimeProvider time, ILogger<RunFinaliser> logger)
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

        await db.Threads.Where(t => t.Id == run.ThreadId && t.ActiveRunId == run.RunId).ExecuteUpdateAsync(s => s
            .SetProperty(t => t.ActiveRunId, (string?)null)
            .SetProperty(t => t.LastRunStatus, RunStatus.Failed)
            .SetProperty(t => t.UpdatedAt, now), ct);
        // The claim above already wrote the run's final state: only the terminal event is left to publish and store.
        await PublishAsync(db, run, AgentEvent.Error(AgentEvent.TopAgent, code, message, final: true));
        return true;
    }
}
