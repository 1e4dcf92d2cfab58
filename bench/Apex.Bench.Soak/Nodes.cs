using System.Security.Cryptography;
using Apex.Testing;
using Microsoft.Data.Sqlite;

namespace Apex.Bench.Soak;

internal enum Scenario
{
    /// <summary>One node, SQLite, the in-memory broker.</summary>
    Sqlite,

    /// <summary>Two nodes on one PostgreSQL database and Redis (docs/scale-out.md).</summary>
    Cluster,
}

/// <summary>
/// The Apex nodes of one soak, each a real server (the composition of <c>apex serve</c>) on its own
/// loopback port, that can be restarted on the same data (a new port each time).
/// </summary>
internal sealed class Nodes : IAsyncDisposable
{
    private readonly NodeSlot[] _slots;
    private readonly PostgresTestDatabase? _database;

    private Nodes(NodeSlot[] slots, PostgresTestDatabase? database)
    {
        _slots = slots;
        _database = database;
    }

    public int Count => _slots.Length;

    public static async Task<Nodes> StartAsync(Scenario scenario)
    {
        var common = new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Error",
            ["Logging:LogLevel:Microsoft.EntityFrameworkCore.Database.Command"] = Environment.GetEnvironmentVariable("SOAK_SQL_LOG") ?? "Warning",
            ["Auth:AccessTokenMinutes"] = "240",
            ["Auth:Abuse:PerIpPerMinute"] = "1000000",
        };
        if (scenario == Scenario.Sqlite)
        {
            var slot = new NodeSlot(Directory.CreateTempSubdirectory("apex-soak-").FullName, common);
            await slot.StartAsync();
            return new Nodes([slot], null);
        }

        var database = await PostgresTestDatabase.CreateAsync();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var cluster = new Dictionary<string, string?>(common)
        {
            ["Database:Provider"] = "Postgres",
            ["Database:ConnectionString"] = database.ConnectionString,
            ["Broker:Provider"] = "redis",
            ["Redis:Configuration"] = Environment.GetEnvironmentVariable("APEX_TEST_REDIS"),
            ["Redis:KeyPrefix"] = $"apex-soak-{Guid.NewGuid():N}:",
            // Every node signs with the same key, so any node accepts any node's tokens.
            ["Auth:SigningKeyId"] = "soak",
            ["Auth:SigningKeyPem"] = key.ExportPkcs8PrivateKeyPem(),
        };
        var slots = new NodeSlot[2];
        try
        {
            for (var i = 0; i < slots.Length; i++)
            {
                // One after the other: the first one migrates the database.
                slots[i] = new NodeSlot(Directory.CreateTempSubdirectory("apex-soak-").FullName, cluster);
                await slots[i].StartAsync();
            }
        }
        catch
        {
            await new Nodes([.. slots.Where(s => s is not null)], database).DisposeAsync();
            throw;
        }

        return new Nodes(slots, database);
    }

    /// <summary>The base address of a running node, or null while none is up.</summary>
    public Uri? Pick(Random random)
    {
        var live = _slots.Select(s => s.Address).OfType<Uri>().ToArray();
        return live.Length == 0 ? null : live[random.Next(live.Length)];
    }

    /// <summary>A graceful stop (as on SIGTERM) of one node, then a start on the same data.</summary>
    public Task RestartAsync(int index) => _slots[index].RestartAsync();

    public async ValueTask DisposeAsync()
    {
        foreach (var slot in _slots)
        {
            await slot.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    private sealed class NodeSlot(string dataDir, Dictionary<string, string?> settings) : IAsyncDisposable
    {
        private ApexTestServer? _server;

        public Uri? Address => Volatile.Read(ref _server)?.BaseAddress;

        public async Task StartAsync() =>
            Volatile.Write(ref _server, await ApexTestServer.StartAsync(settings, dataDir: dataDir));

        public async Task RestartAsync()
        {
            var server = Interlocked.Exchange(ref _server, null);
            if (server is not null)
            {
                // Stopped, not disposed: ApexTestServer's dispose deletes the data directory.
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await server.App.StopAsync(cts.Token);
                await server.App.DisposeAsync();
                server.Client.Dispose();
                SqliteConnection.ClearAllPools();
            }

            await StartAsync();
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _server, null) is { } server)
            {
                await server.DisposeAsync();
            }
        }
    }
}
