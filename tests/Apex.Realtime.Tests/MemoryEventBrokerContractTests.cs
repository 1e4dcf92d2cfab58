using Apex.Realtime.Broker;
using Apex.Testing.Brokers;
using Microsoft.Extensions.Options;

namespace Apex.Realtime.Tests;

/// <summary>The broker contract against the in-memory broker, on a clock the test moves.</summary>
public sealed class MemoryEventBrokerContractTests : EventBrokerContract
{
    private readonly ManualTime _time = new();

    protected override Task<IEventBroker> CreateBrokerAsync(int historySize, int historyTtlSeconds) =>
        Task.FromResult<IEventBroker>(Create(historySize, historyTtlSeconds));

    protected override Task PassTimeAsync(TimeSpan by)
    {
        _time.Advance(by);
        return Task.CompletedTask;
    }

    /// <summary>The history lives in the process: losing it is the node restarting with a new broker.</summary>
    protected override Task<IEventBroker> LoseHistoryAsync(IEventBroker broker) =>
        Task.FromResult<IEventBroker>(Own(Create(BrokerOptions.DefaultHistorySize, BrokerOptions.DefaultHistoryTtlSeconds)));

    protected override int ManyEvents => 40_000;

    private MemoryEventBroker Create(int historySize, int historyTtlSeconds) =>
        new(Options.Create(new BrokerOptions { HistorySize = historySize, HistoryTtlSeconds = historyTtlSeconds }), _time);
}

/// <summary>A clock the test moves by hand; timers never fire on their own.</summary>
internal sealed class ManualTime : TimeProvider
{
    private long _ticks = 1_000_000_000;

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;
}
