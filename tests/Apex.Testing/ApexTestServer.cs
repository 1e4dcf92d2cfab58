using Apex.Hosting;
using Apex.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Apex.Testing;

/// <summary>
/// A real Apex server (the same composition as <c>apex serve</c>) on Kestrel, bound to a free
/// loopback port, with its own SQLite file in a temporary data directory. With
/// <c>APEX_TEST_DATABASE=postgres</c> each server gets a fresh PostgreSQL database instead (on the
/// server named by <c>APEX_TEST_POSTGRES</c>), migrated like <c>apex migrate</c> does and dropped
/// at dispose, so every suite runs unchanged on both providers.
/// </summary>
public sealed class ApexTestServer : IAsyncDisposable
{
    public const string DatabaseVariable = "APEX_TEST_DATABASE";

    private PostgresTestDatabase? _ownDatabase;

    private ApexTestServer(WebApplication app, string dataDir, Uri baseAddress)
    {
        App = app;
        DataDir = dataDir;
        BaseAddress = baseAddress;
        Client = CreateClient();
    }

    /// <summary>True when <c>APEX_TEST_DATABASE=postgres</c> puts test servers on PostgreSQL.</summary>
    public static bool UsesPostgres =>
        string.Equals(Environment.GetEnvironmentVariable(DatabaseVariable), "postgres", StringComparison.OrdinalIgnoreCase);

    public WebApplication App { get; }
    public string DataDir { get; }
    public Uri BaseAddress { get; }

    /// <summary>A client bound to <see cref="BaseAddress"/> with no default headers.</summary>
    public HttpClient Client { get; }

    public IServiceProvider Services => App.Services;

    /// <summary>ws://host:port, for WebSocket tests.</summary>
    public Uri WebSocketBase => new UriBuilder(BaseAddress) { Scheme = BaseAddress.Scheme == "https" ? "wss" : "ws" }.Uri;

    /// <summary>
    /// A server priced only by <paramref name="catalogJson"/> (a <c>Catalog:File</c> document with
    /// <c>Catalog:ReplaceBuiltIn</c>), written into its data directory so that disposing removes it.
    /// </summary>
    public static async Task<ApexTestServer> StartWithCatalogAsync(string catalogJson, IDictionary<string, string?>? settings = null)
    {
        var dataDir = Directory.CreateTempSubdirectory("apex-test-").FullName;
        var file = Path.Combine(dataDir, "catalog.json");
        await File.WriteAllTextAsync(file, catalogJson);
        var all = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>())
        {
            ["Catalog:File"] = file,
            ["Catalog:ReplaceBuiltIn"] = "true",
        };
        return await StartAsync(all, dataDir: dataDir);
    }

    /// <param name="settings">Configuration keys, e.g. <c>["Auth:AccessTokenMinutes"] = "1"</c>.</param>
    /// <param name="configure">Service replacements (for example a scripted agent runtime).</param>
    /// <param name="dataDir">Reuse a data directory (restart tests); a new temporary one by default.</param>
    public static async Task<ApexTestServer> StartAsync(
        IDictionary<string, string?>? settings = null,
        Action<WebApplicationBuilder>? configure = null,
        string? dataDir = null,
        string environment = "Development",
        CancellationToken ct = default)
    {
        dataDir ??= Directory.CreateTempSubdirectory("apex-test-").FullName;
        var args = new List<string>
        {
            "--urls=http://127.0.0.1:0",
            $"--environment={environment}",
            $"--Apex:DataDir={dataDir}",
        };
        PostgresTestDatabase? ownDatabase = null;
        if (UsesPostgres && settings?.ContainsKey("Database:Provider") != true)
        {
            // The database belongs to the data directory, like the SQLite file would: a server restarted
            // on the same directory finds the same data.
            var marker = Path.Combine(dataDir, "postgres-test-database");
            ownDatabase = File.Exists(marker)
                ? PostgresTestDatabase.Attach(await File.ReadAllTextAsync(marker, ct))
                : await PostgresTestDatabase.CreateAsync(ct: ct);
            await File.WriteAllTextAsync(marker, ownDatabase.Name, ct);
            args.Add("--Database:Provider=Postgres");
            args.Add($"--Database:ConnectionString={ownDatabase.ConnectionString}");
        }

        if (settings is not null)
        {
            args.AddRange(settings.Select(kv => $"--{kv.Key}={kv.Value}"));
        }

        try
        {
            var app = ApexHost.Build([.. args], configure);
            if (app.Services.GetRequiredService<IOptions<DatabaseOptions>>().Value.Provider == DatabaseProvider.Postgres)
            {
                // What `apex migrate` does before PostgreSQL nodes start; a no-op when already migrated.
                await Database.MigrateAllAsync(app.Services, ct);
            }

            await ApexHost.PrepareAsync(app, ct);
            await app.StartAsync(ct);
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new ApexTestServer(app, dataDir, new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal)))
            {
                _ownDatabase = ownDatabase,
            };
        }
        catch when (ownDatabase is not null)
        {
            await ownDatabase.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Stops the server as a graceful shutdown would and lets go of its SQLite files, but keeps its data
    /// directory (and database), so that a second server started on <see cref="DataDir"/> plays the restart.
    /// </summary>
    public async Task StopKeepingDataAsync(CancellationToken ct = default)
    {
        await App.StopAsync(ct);
        await App.DisposeAsync();
        Client.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    public HttpClient CreateClient() => new() { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await App.StopAsync(cts.Token);
        await App.DisposeAsync();
        if (_ownDatabase is not null)
        {
            await _ownDatabase.DisposeAsync();
        }

        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a pooled connection; the OS temp cleaner removes it later.
        }
    }
}
