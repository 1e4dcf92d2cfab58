using Apex.Chat.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Apex.Chat.Runs;

/// <summary>The run an event belongs to.</summary>
public sealed record RunRef(string RunId, string UserId, string ThreadId);

/// <summary>
/// The other nodes, which may be executing runs this node does not hold. Chat registers the single-node
/// default; a scale-out module replaces it.
/// </summary>
public interface IRunCluster
{
    /// <summary>
    /// True when several nodes share the database: stops reach runs on other nodes through the cluster,
    /// and runs whose node died are ended by the cluster (run leases) instead of a start-up sweep.
    /// </summary>
    bool SpansNodes { get; }

    /// <summary>Asks whichever node executes <paramref name="runId"/> to stop it for <paramref name="reason"/>.</summary>
    Task RequestCancelAsync(string userId, string runId, CancelReason reason, CancellationToken ct);
}

/// <summary>One node owns every run in the database: there is nobody else to ask.</summary>
internal sealed class SingleNodeRunCluster : IRunCluster
{
    public bool SpansNodes => false;

    public Task RequestCancelAsync(string userId, string runId, CancelReason reason, CancellationToken ct) => Task.CompletedTask;
}

/// <summary>What a scale-out module needs from the runs of this node and the run records Chat owns.</summary>
public interface IRunNode
{
    /// <summary>The ids of the runs executing in this process.</summary>
    IReadOnlyList<string> LocalRunIds();

    /// <summary>Cancels the run if it executes here and belongs to <paramref name="userId"/>; another user's id cancels nothing.</summary>
    void CancelLocal(string userId, string runId, CancelReason reason);

    /// <summary>Runs still queued or running, created before <paramref name="createdBefore"/>, that this process does not execute; oldest first.</summary>
    Task<IReadOnlyList<RunRef>> RemoteActiveRunsAsync(DateTimeOffset createdBefore, int limit, CancellationToken ct);

    /// <summary>
    /// Ends a run no process executes any more with a stored and published <c>agent_error</c> (<paramref name="code"/>,
    /// <c>final: true</c>). False when it had ended already (another node got there first).
    /// </summary>
    Task<bool> FailOrphanAsync(RunRef run, string code, string message, CancellationToken ct);
}

internal sealed class LocalRunNode(RunRegistry registry, RunJournal journal, IServiceScopeFactory scopes) : IRunNode
{
    public IReadOnlyList<string> LocalRunIds() => [.. registry.Snapshot().Select(r => r.RunId)];

    public void CancelLocal(string userId, string runId, CancelReason reason) => registry.Find(userId, runId)?.Cancel(reason);

    public async Task<IReadOnlyList<RunRef>> RemoteActiveRunsAsync(DateTimeOffset createdBefore, int limit, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ChatDbContext>();
        var candidates = await db.Runs.AsNoTracking()
            .Where(r => (r.Status == RunStatus.Queued || r.Status == RunStatus.Running) && r.CreatedAt < createdBefore)
            .OrderBy(r => r.CreatedAt)
            .Take(limit)
            .Select(r => new RunRef(r.Id, r.UserId, r.ThreadId))
            .ToListAsync(ct);
        return [.. candidates.Where(c => registry.Find(c.UserId, c.RunId) is null)];
    }

    public async Task<bool> FailOrphanAsync(RunRef run, string code, string message, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        return await journal.FailOrphanAsync(scope.ServiceProvider.GetRequiredService<ChatDbContext>(), run, code, message, ct);
    }
}
