using System.ComponentModel.DataAnnotations;

namespace Apex.Realtime.Broker;

/// <summary>Section <c>Broker</c>: which event broker carries the per-user streams, and their replay window.</summary>
public sealed class BrokerOptions
{
    public const string Section = "Broker";
    public const string MemoryProvider = "memory";

    /// <summary>Several nodes share streams through Redis (<c>Redis:Configuration</c>); registered by the Redis module as a keyed <see cref="IEventBroker"/>.</summary>
    public const string RedisProvider = "redis";

    /// <summary>The providers this build knows; anything else stops the start-up with an error naming the key.</summary>
    public static readonly IReadOnlyList<string> KnownProviders = [MemoryProvider, RedisProvider];

    public const int DefaultHistorySize = 1_000;
    public const int DefaultHistoryTtlSeconds = 600;

    [Required(AllowEmptyStrings = false)]
    public string Provider { get; set; } = MemoryProvider;

    /// <summary>Events kept per user for resumes.</summary>
    [Range(1, 1_000_000)]
    public int HistorySize { get; set; } = DefaultHistorySize;

    /// <summary>Seconds an event stays available for resumes.</summary>
    [Range(1, 7 * 24 * 3600)]
    public int HistoryTtlSeconds { get; set; } = DefaultHistoryTtlSeconds;
}
