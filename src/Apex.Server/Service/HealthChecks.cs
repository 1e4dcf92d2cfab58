using Apex.Hosting;
using Apex.Realtime.Broker;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Apex.Server.Service;

/// <summary>A model-less context: the database check runs a real query on the configured database.</summary>
internal sealed class HealthProbeDbContext(DbContextOptions<HealthProbeDbContext> options) : DbContext(options);

internal sealed class DatabaseHealthCheck(HealthProbeDbContext db) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            // SQLite answers "SELECT 1" without touching the file; reading the schema needs the file and its lock.
            var sql = db.Database.IsSqlite() ? "SELECT count(*) FROM sqlite_master" : "SELECT 1";
            // SQLite waits for a lock synchronously inside the "async" call and ignores the token; on the
            // thread pool with WaitAsync the check's timeout holds anyway.
            await Task.Run(() => db.Database.ExecuteSqlRawAsync(sql, cancellationToken), cancellationToken).WaitAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
        {
            // The exception text can hold a host name or a connection detail: it stays in the log.
            return HealthCheckResult.Unhealthy("The database did not answer.", ex);
        }
    }
}

/// <summary>
/// The event bus is reachable when a broker is registered and, if it can check itself (a Redis
/// broker), its own check passes. A process without a broker (<c>--role auth</c>) has nothing to
/// reach: the check reports not applicable instead of failing.
/// </summary>
internal sealed class EventBusHealthCheck(IServiceProvider services) : IHealthCheck
{
    public const string NotApplicable = "not_applicable";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var broker = services.GetService<IEventBroker>();
        if (broker is null)
        {
            return HealthCheckResult.Healthy(NotApplicable);
        }

        return broker is IHealthCheck selfCheck
            ? await selfCheck.CheckHealthAsync(context, cancellationToken)
            : HealthCheckResult.Healthy();
    }
}

internal static class HealthCheckNames
{
    public const string Database = "database";
    public const string EventBus = "event_bus";

    public static void AddApexHealthChecks(this IServiceCollection services)
    {
        services.AddDbContext<HealthProbeDbContext>((sp, options) =>
        {
            var apex = sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<ApexOptions>>().Value;
            var db = sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<DatabaseOptions>>().Value;
            if (db.Provider == DatabaseProvider.Sqlite)
            {
                // A pooled SQLite connection keeps answering from a file that has been deleted or
                // replaced; the probe opens the database afresh each time.
                var probe = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(Apex.Hosting.Database.SqliteConnectionString(apex, db)) { Pooling = false };
                db = new DatabaseOptions { Provider = db.Provider, CommandTimeoutSeconds = db.CommandTimeoutSeconds, ConnectionString = probe.ConnectionString };
            }

            Apex.Hosting.Database.Configure(options, apex, db, Apex.Hosting.Database.HistoryTable<HealthProbeDbContext>());
        });
        services.AddHealthChecks();
        // PostConfigure so that a module that registers its own "database" or "event_bus" check
        // (e.g. a broker with a deeper probe) keeps it, and these are the defaults.
        services.AddOptions<HealthCheckServiceOptions>().PostConfigure<Microsoft.Extensions.Options.IOptions<ServiceOptions>>((o, service) =>
        {
            var timeout = TimeSpan.FromMilliseconds(service.Value.HealthTimeoutMs);
            if (!o.Registrations.Any(r => r.Name == Database))
            {
                o.Registrations.Add(new HealthCheckRegistration(Database,
                    sp => ActivatorUtilities.CreateInstance<DatabaseHealthCheck>(sp), HealthStatus.Unhealthy, null, timeout));
            }

            if (!o.Registrations.Any(r => r.Name == EventBus))
            {
                o.Registrations.Add(new HealthCheckRegistration(EventBus,
                    sp => ActivatorUtilities.CreateInstance<EventBusHealthCheck>(sp), HealthStatus.Unhealthy, null, timeout));
            }
        });
    }
}
