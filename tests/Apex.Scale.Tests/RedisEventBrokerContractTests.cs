using Apex.Realtime.Broker;
using Apex.Redis;
using Apex.Testing.Brokers;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Apex.Scale.Tests;

/// <summary>
/// The broker contract against the Redis broker on the Redis server of <c>APEX_TEST_REDIS</c> (test.sh
/// and CI start it with scripts/services.sh), under a key prefix of this test alone. The replay
/// window's age is measured by Redis's own clock, so the TTL test lets real time pass.
/// </summary>
public sealed class RedisEventBrokerContractTests : EventBrokerContract
{
    private readonly string _prefix = $"apex-test-{Guid.NewGuid():N}:";
    private readonly List<RedisConnection> _connections = [];

    public static string? SkipReason => TestCluster.RedisConfiguration is null
        ? $"{TestCluster.RedisVariable} must name a Redis server (test.sh starts one with scripts/services.sh)"
        : null;

    protected override int ShortTtlSeconds => 2;

    protected override int ManyEvents => 2_000;

    protected override Task<IEventBroker> CreateBrokerAsync(int historySize, int historyTtlSeconds)
    {
        var connection = new RedisConnection(
            Options.Create(new RedisOptions { Configuration = TestCluster.RedisConfiguration, KeyPrefix = _prefix, OperationTimeoutMs = 10_000 }),
            NullLogger<RedisConnection>.Instance);
        _connections.Add(connection);
        return Task.FromResult<IEventBroker>(new RedisEventBroker(connection,
            Options.Create(new BrokerOptions { HistorySize = historySize, HistoryTtlSeconds = historyTtlSeconds }),
            NullLogger<RedisEventBroker>.Instance));
    }

    protected override Task PassTimeAsync(TimeSpan by) => Task.Delay(by);

    /// <summary>What a Redis restart without persistence leaves: none of the streams' keys.</summary>
    protected override async Task<IEventBroker> LoseHistoryAsync(IEventBroker broker)
    {
        await DeleteKeysAsync();
        return broker;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await DeleteKeysAsync();
        foreach (var connection in _connections)
        {
            connection.Dispose();
        }
    }

    private async Task DeleteKeysAsync()
    {
        await using var admin = await ConnectionMultiplexer.ConnectAsync(TestCluster.RedisConfiguration! + ",allowAdmin=true");
        var server = admin.GetServers()[0];
        var keys = new List<RedisKey>();
        await foreach (var key in server.KeysAsync(pattern: _prefix + "*"))
        {
            keys.Add(key);
        }

        if (keys.Count > 0)
        {
            await admin.GetDatabase().KeyDeleteAsync([.. keys]);
        }
    }
}
