using System.ComponentModel.DataAnnotations;

namespace Apex.Server.Service;

/// <summary>Section <c>Service</c>: health, public config and metrics.</summary>
public sealed class ServiceOptions
{
    public const string Section = "Service";
    public const int DefaultHealthTimeoutMs = 2_000;

    /// <summary>Where the web app finds the auth routes when auth runs elsewhere (<c>--role auth</c>); default {public url}/auth.</summary>
    [Url]
    public string? AuthUrl { get; set; }

    /// <summary>The WebSocket URL announced to the web app; default ws(s)://{public host}/ws.</summary>
    public string? WsUrl { get; set; }

    /// <summary>Milliseconds each dependency check of /health and /health/ready may take (readiness: 2 s).</summary>
    [Range(100, 30_000)]
    public int HealthTimeoutMs { get; set; } = DefaultHealthTimeoutMs;

    public MetricsOptions Metrics { get; set; } = new();
}

public sealed class MetricsOptions
{
    /// <summary>Serve Prometheus text on /metrics.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// When set, /metrics answers only on connections to this local port (add it to the listening
    /// URLs, e.g. <c>--urls "http://0.0.0.0:8080;http://127.0.0.1:9090"</c>), so it stays off the
    /// public listener. The listening socket decides, not the Host header.
    /// </summary>
    [Range(1, 65_535)]
    public int? Port { get; set; }

    /// <summary>When set, /metrics requires <c>Authorization: Bearer {BearerToken}</c> (at least 16 characters).</summary>
    [MinLength(16)]
    public string? BearerToken { get; set; }
}
