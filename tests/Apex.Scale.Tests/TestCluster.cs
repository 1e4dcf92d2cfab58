using System.Security.Cryptography;
using Apex.Testing;
using Microsoft.AspNetCore.Builder;

namespace Apex.Scale.Tests;

/// <summary>
/// Several real Apex nodes in this process, each on its own loopback port and data directory,
/// sharing one fresh PostgreSQL database and one Redis under a key prefix of their own: the
/// deployment of docs/scale-out.md, minus the separate processes.
/// </summary>
internal sealed class TestCluster : IAsyncDisposable
{
    public const string RedisVariable = "APEX_TEST_REDIS";

    private TestCluster(PostgresTestDatabase database, string redis, string prefix, string signingKeyPem)
    {
        Database = database;
        Redis = redis;
        Prefix = prefix;
        SigningKeyPem = signingKeyPem;
    }

    public PostgresTestDatabase Database { get; }
    public string Redis { get; }
    public string Prefix { get; }
    public string SigningKeyPem { get; }
    public List<ApexTestServer> Nodes { get; } = [];

    public ApexTestServer this[int index] => Nodes[index];

    /// <summary>Why the multi-node suites cannot run here, or null when they can.</summary>
    public static string? SkipReason =>
        PostgresTestDatabase.ServerConnectionString is null || RedisConfiguration is null
            ? $"{PostgresTestDatabase.ServerVariable} and {RedisVariable} must name PostgreSQL and Redis servers (test.sh starts them with scripts/services.sh)"
            : null;

    public static string? RedisConfiguration => Environment.GetEnvironmentVariable(RedisVariable) is { Length: > 0 } v ? v : null;

    public static async Task<TestCluster> StartAsync(
        int nodes,
        Action<WebApplicationBuilder>? configure = null,
        IDictionary<string, string?>? settings = null,
        string? redis = null,
        string? postgresServer = null)
    {
        var database = await PostgresTestDatabase.CreateAsync(postgresServer);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var cluster = new TestCluster(database, redis ?? RedisConfiguration!, $"apex-test-{Guid.NewGuid():N}:", key.ExportPkcs8PrivateKeyPem());
        try
        {
            for (var i = 0; i < nodes; i++)
            {
                await cluster.AddNodeAsync(configure, settings);
            }
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }

        return cluster;
    }

    /// <summary>Starts one more node of this cluster (nodes start one after the other: the first migrates).</summary>
    public async Task<ApexTestServer> AddNodeAsync(Action<WebApplicationBuilder>? configure = null, IDictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?>(NodeSettings());
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>())
        {
            all[k] = v;
        }

        var node = await ApexTestServer.StartAsync(all, configure);
        Nodes.Add(node);
        return node;
    }

    /// <summary>The settings every node of the cluster shares (docs/scale-out.md lists them).</summary>
    public Dictionary<string, string?> NodeSettings() => new()
    {
        ["Database:Provider"] = "Postgres",
        ["Database:ConnectionString"] = Database.ConnectionString,
        ["Database:CommandTimeoutSeconds"] = "5",
        ["Broker:Provider"] = "redis",
        ["Redis:Configuration"] = Redis,
        ["Redis:KeyPrefix"] = Prefix,
        ["Redis:OperationTimeoutMs"] = "1000",
        ["Redis:RunLeaseSeconds"] = "3",
        // Every node signs with the same key, so any node validates any node's tokens.
        ["Auth:SigningKeyId"] = "cluster-test",
        ["Auth:SigningKeyPem"] = SigningKeyPem,
        // Far slower than the 1 s the tests demand: propagation must come from the Redis broadcast.
        ["Auth:RevocationPollMilliseconds"] = "30000",
        ["Service:HealthTimeoutMs"] = "1500",
    };

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            try
            {
                await node.DisposeAsync();
            }
            catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException or OperationCanceledException)
            {
                // Already stopped by the test.
            }
        }

        await Database.DisposeAsync();
    }
}

/// <summary>A multi-node test: skipped, with the reason shown, when PostgreSQL and Redis are not configured.</summary>
internal sealed class ClusterFactAttribute : FactAttribute
{
    public ClusterFactAttribute()
    {
        Timeout = 90_000;
        if (TestCluster.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}
