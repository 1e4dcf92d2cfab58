using Apex.Chat.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Apex.Chat.Runs;

/// <summary>
/// Keeps run records honest across process lifetimes: at start, runs a previous process left queued
/// or running can never finish, so they are marked failed and their threads released; at shutdown,
/// active runs are stopped with a visible <c>agent_error</c> (<c>server_shutdown</c>) and given a short
/// grace period to store and publish it.
/// </summary>
internal sealed class RunLifecycleService(
    IServiceScopeFactory scopes,
    RunRegistry registry,
    RunJournal journal,
    IRunCluster cluster,
    IHostApplicationLifetime lifetime,
    IOptions<ChatOptions> options,
    ILogger<RunLifecycleService> logger) : IHostedService
{
    private CancellationTokenRegistration _stopping;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // A single node owns every run in the database. With several nodes, another node may be
        // executing them: run leases end the runs of a dead node instead.
        if (cluster.SpansNodes)
        {
            _stopping = lifetime.ApplicationStopping.Register(CancelAll);
            return;
        }

        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<ChatDbContext>();
            var orphans = await db.Runs.AsNoTracking().Where(r => r.Status == RunStatus.Queued || r.Status == RunStatus.Running)
                .OrderBy(r => r.CreatedAt)
                .Select(r => new RunRef(r.Id, r.UserId, r.ThreadId))
                .ToListAsync(cancellationToken);
            var count = 0;
            foreach (var orphan in orphans)
            {
                // The same end as every other run: a stored and published agent_error (final: true),
                // so a client that resumes or reads the run's events sees it end.
                if (await journal.FailOrphanAsync(db, orphan, RunErrors.ServerShutdown,
                        "The server stopped while the run was active; send the message again to retry.", cancellationToken))
                {
                    count++;
                }
            }

            // Claims left by runs that have ended (their final write was lost with the process).
            await db.Threads.Where(t => t.ActiveRunId != null)
                .ExecuteUpdateAsync(s => s
                    .SetProperty(t => t.ActiveRunId, (string?)null)
                    .SetProperty(t => t.LastRunStatus, RunStatus.Failed), cancellationToken);
            if (count > 0)
            {
                Log.StaleRunsFailed(logger, count);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
        {
            // A database that is not migrated yet (PostgreSQL before `apex migrate`) has no runs to fix;
            // /health reports the database either way.
            Log.StaleRunsCheckFailed(logger, ex);
        }

        // Cancelling on ApplicationStopping rather than in StopAsync gives runs the most time to publish
        // their last event while the WebSocket gateway is still sending.
        _stopping = lifetime.ApplicationStopping.Register(CancelAll);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        CancelAll();
        var runs = registry.Snapshot();
        if (runs.Count == 0)
        {
            return;
        }

        var grace = Task.Delay(TimeSpan.FromSeconds(options.Value.ShutdownGraceSeconds), cancellationToken);
        await Task.WhenAny(Task.WhenAll(runs.Select(r => r.Completion)), grace);
        if (registry.Count > 0)
        {
            Log.ShutdownGraceExceeded(logger, registry.Count);
        }

        await _stopping.DisposeAsync();
    }

    private void CancelAll()
    {
        var runs = registry.Snapshot();
        if (runs.Count > 0)
        {
            Log.CancellingForShutdown(logger, runs.Count);
        }

        foreach (var run in runs)
        {
            run.Cancel(CancelReason.Shutdown);
        }
    }
}
