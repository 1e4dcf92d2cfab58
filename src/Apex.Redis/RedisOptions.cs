using System.ComponentModel.DataAnnotations;

namespace Apex.Redis;

/// <summary>
/// Section <c>Redis</c>: the Redis server that several Apex nodes share for event streams
/// (<c>Broker:Provider=redis</c>), revocation broadcast, cross-node run stop and run leases.
/// </summary>
public sealed class RedisOptions
{
    public const string Section = "Redis";
    public const string DefaultKeyPrefix = "apex:";
    public const int DefaultOperationTimeoutMs = 2_000;
    public const int DefaultRunLeaseSeconds = 15;

    /// <summary>A StackExchange.Redis configuration string, e.g. <c>127.0.0.1:6379,password=…</c>.</summary>
    public string? Configuration { get; set; }

    /// <summary>Prefix of every key and channel, so several deployments can share one Redis.</summary>
    [Required(AllowEmptyStrings = false)]
    [RegularExpression("^[A-Za-z0-9:_.-]{1,64}$", ErrorMessage = "Redis:KeyPrefix may hold letters, digits and : _ . - (at most 64).")]
    public string KeyPrefix { get; set; } = DefaultKeyPrefix;

    /// <summary>Milliseconds a Redis command may take before the request fails with a clear error.</summary>
    [Range(100, 60_000)]
    public int OperationTimeoutMs { get; set; } = DefaultOperationTimeoutMs;

    /// <summary>
    /// Seconds a node's claim on a run lives without renewal (renewed every third of it). A run whose
    /// node stopped renewing is ended as failed by another node.
    /// </summary>
    [Range(3, 600)]
    public int RunLeaseSeconds { get; set; } = DefaultRunLeaseSeconds;
}
