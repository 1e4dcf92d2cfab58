using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Apex.Hosting;

/// <summary>
/// One database for every module: each module owns a <see cref="DbContext"/> with its own tables and
/// migrations history, and registers it here so that <c>apex migrate</c> and the SQLite start-up
/// migration see all of them.
/// </summary>
public static class Database
{
    /// <summary>The assembly holding the PostgreSQL migrations of every module's context.</summary>
    public const string PostgresMigrationsAssembly = "Apex.Migrations.Postgres";

    public static IServiceCollection AddApexDbContext<TContext>(this IServiceCollection services, Action<DbContextOptionsBuilder>? configure = null)
        where TContext : DbContext
    {
        // Pooled: a scope leases a context already built (model, internal services, interceptors) and
        // returns it reset, instead of building one and running this configuration per scope; the
        // options are built once. The contexts hold no state of their own beyond EF Core's, which the
        // pool resets.
        services.AddDbContextPool<TContext>((sp, options) =>
        {
            var apex = sp.GetRequiredService<IOptions<ApexOptions>>().Value;
            var db = sp.GetRequiredService<IOptions<DatabaseOptions>>().Value;
            Configure(options, apex, db, HistoryTable<TContext>());
            // EF Core remembers for this long, per context, that nothing (log, interceptor, diagnostic
            // listener) wanted a command's events, and then skips them. A pooled context keeps that
            // memory across leases: one used before tracing subscribed (start-up migration, hosted
            // services that start before the tracer) would drop the database spans of the requests
            // that lease it next. Checking on every command costs what a fresh context's first
            // command already did.
            options.ConfigureLoggingCacheTime(TimeSpan.Zero);
            configure?.Invoke(options);
        });
        services.AddSingleton<IMigratableContext>(new MigratableContext<TContext>());
        return services;
    }

    /// <summary>Configures a context's provider; shared by DI and by design-time factories.</summary>
    public static void Configure(DbContextOptionsBuilder options, ApexOptions apex, DatabaseOptions db, string historyTable)
    {
        switch (db.Provider)
        {
            case DatabaseProvider.Sqlite:
                options.UseSqlite(SqliteConnectionString(apex, db), sqlite =>
                {
                    sqlite.MigrationsHistoryTable(historyTable);
                    sqlite.CommandTimeout(db.CommandTimeoutSeconds);
                });
                options.AddInterceptors(SqliteConnectionSetup.For(db.CommandTimeoutSeconds));
                break;
            case DatabaseProvider.Postgres:
                options.UseNpgsql(db.ConnectionString, npgsql =>
                {
                    // PostgreSQL migrations of every module live in one assembly; SQLite's stay in each module.
                    npgsql.MigrationsAssembly(PostgresMigrationsAssembly);
                    npgsql.MigrationsHistoryTable(historyTable);
                    npgsql.CommandTimeout(db.CommandTimeoutSeconds);
                });
                break;
            default:
                throw new InvalidOperationException($"Database:Provider '{db.Provider}' is not supported.");
        }
    }

    public static string SqliteConnectionString(ApexOptions apex, DatabaseOptions db)
    {
        if (!string.IsNullOrWhiteSpace(db.ConnectionString))
        {
            var dataSource = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(db.ConnectionString).DataSource;
            if (!string.IsNullOrEmpty(dataSource) && dataSource != ":memory:" && !dataSource.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
            {
                SqliteFiles.Secure(Path.GetFullPath(dataSource), ownDirectory: false);
            }

            return db.ConnectionString;
        }

        var path = Path.Combine(apex.ResolveDataDir(), "apex.db");
        SqliteFiles.Secure(path, ownDirectory: true);
        // Pooling keeps one file handle per connection; a busy timeout lets concurrent writers wait
        // for the lock instead of failing at once.
        return $"Data Source={path};Pooling=True;Default Timeout=30";
    }

    public static string HistoryTable<TContext>() =>
        "__migrations_" + typeof(TContext).Name.Replace("DbContext", string.Empty, StringComparison.Ordinal).ToLowerInvariant();

    /// <summary>Applies every registered module's pending migrations.</summary>
    public static async Task MigrateAllAsync(IServiceProvider services, CancellationToken ct)
    {
        foreach (var context in services.GetServices<IMigratableContext>())
        {
            await context.MigrateAsync(services, ct);
        }
    }

    /// <summary>Binds the process-wide option sections shared by every module.</summary>
    public static IServiceCollection AddApexCoreOptions(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ApexOptions>().Bind(configuration.GetSection(ApexOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<DatabaseOptions>().Bind(configuration.GetSection(DatabaseOptions.Section)).ValidateDataAnnotations()
            .Validate(o => o.Provider != DatabaseProvider.Postgres || !string.IsNullOrWhiteSpace(o.ConnectionString),
                "Database:ConnectionString is required when Database:Provider is Postgres.")
            .ValidateOnStart();
        return services;
    }
}

public interface IMigratableContext
{
    string Name { get; }

    Task MigrateAsync(IServiceProvider services, CancellationToken ct);
}

internal sealed class MigratableContext<TContext> : IMigratableContext
    where TContext : DbContext
{
    public string Name => typeof(TContext).Name;

    public async Task MigrateAsync(IServiceProvider services, CancellationToken ct)
    {
        await using var scope = services.CreateAsyncScope();
        var context = scope.ServiceProvider.GetRequiredService<TContext>();
        await context.Database.MigrateAsync(ct);
    }
}

/// <summary>
/// A dependency (the database, the event broker) did not answer in time. HTTP requests that fail
/// with it get 503 with <c>Retry-After</c> instead of a 500.
/// </summary>
public class ServiceUnavailableException : Exception
{
    public ServiceUnavailableException()
    {
    }

    public ServiceUnavailableException(string message)
        : base(message)
    {
    }

    public ServiceUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The database holds password hashes and sessions: only the service's own account may read it.
/// SQLite creates its -wal and -shm files with the mode of the database file, so creating that file
/// 0600 before SQLite does covers all three; files of older deployments are tightened at start.
/// </summary>
internal static class SqliteFiles
{
    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> Secured = new(StringComparer.Ordinal);

    /// <summary>Once per path and process (the health probe configures its context on every scope).</summary>
    public static void Secure(string databasePath, bool ownDirectory)
    {
        if (Secured.ContainsKey(databasePath))
        {
            return;
        }

        var dir = Path.GetDirectoryName(databasePath)!;
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(dir);
            Secured[databasePath] = true;
            return;
        }

        if (!Directory.Exists(dir))
        {
            Directory.CreateDirectory(dir, ownDirectory ? OwnerOnlyDirectory : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
        else if (IsShared(dir))
        {
            // A shared directory such as /tmp (design-time tools point there): never Apex's to
            // tighten, and no place to pre-create a database file.
            Secured[databasePath] = true;
            return;
        }
        else if (ownDirectory && (File.GetUnixFileMode(dir) & ~OwnerOnlyDirectory) != 0)
        {
            // The data directory of an older deployment.
            File.SetUnixFileMode(dir, OwnerOnlyDirectory);
        }

        if (!File.Exists(databasePath))
        {
            try
            {
                using var created = new FileStream(databasePath, new FileStreamOptions
                {
                    Mode = FileMode.CreateNew,
                    Access = FileAccess.Write,
                    UnixCreateMode = OwnerOnlyFile,
                });
            }
            catch (IOException) when (File.Exists(databasePath))
            {
                // Created by a concurrent first start; tightened below.
            }
        }

        foreach (var file in new[] { databasePath, databasePath + "-wal", databasePath + "-shm", databasePath + "-journal" })
        {
            if (File.Exists(file) && (File.GetUnixFileMode(file) & ~OwnerOnlyFile) != 0)
            {
                File.SetUnixFileMode(file, OwnerOnlyFile);
            }
        }

        Secured[databasePath] = true;
    }

    /// <summary>World-writable or sticky (like /tmp): other users' files live there too.</summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static bool IsShared(string dir) =>
        (File.GetUnixFileMode(dir) & (UnixFileMode.OtherWrite | UnixFileMode.StickyBit)) != 0;
}
