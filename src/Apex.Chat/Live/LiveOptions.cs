using System.ComponentModel.DataAnnotations;

namespace Apex.Chat.Live;

/// <summary>Section <c>Live</c>: the OTLP receiver, live datasets, budgets and alerts.</summary>
public sealed class LiveOptions
{
    public const string Section = "Live";

    /// <summary>30 days: enough for a month's budget and a week's baseline, bounded storage per key.</summary>
    public const int DefaultRetentionDays = 30;

    /// <summary>4 MiB: the OpenTelemetry SDKs batch 512 spans by default, a few hundred KB.</summary>
    public const long DefaultMaxRequestBytes = 4L * 1024 * 1024;

    public const double DefaultRequestsPerSecond = 20;
    public const int DefaultBurst = 100;

    /// <summary>Rows of a live dataset older than this many days are dropped.</summary>
    [Range(1, 3650, ErrorMessage = "Live:RetentionDays must be between 1 and 3650.")]
    public int RetentionDays { get; set; } = DefaultRetentionDays;

    /// <summary>Largest OTLP request body, compressed or not (and what a gzip body may inflate to); larger ones get 413.</summary>
    [Range(1024, 256L * 1024 * 1024, ErrorMessage = "Live:MaxRequestBytes must be between 1024 and 268435456.")]
    public long MaxRequestBytes { get; set; } = DefaultMaxRequestBytes;

    /// <summary>Sustained OTLP requests per second and key; more get 429 with Retry-After.</summary>
    [Range(0.01, 100_000, ErrorMessage = "Live:RequestsPerSecond must be between 0.01 and 100000.")]
    public double RequestsPerSecond { get; set; } = DefaultRequestsPerSecond;

    /// <summary>Requests a key may send at once above the sustained rate.</summary>
    [Range(1, 100_000, ErrorMessage = "Live:Burst must be between 1 and 100000.")]
    public int Burst { get; set; } = DefaultBurst;

    /// <summary>A span attribute read for the feature before the resource's <c>service.name</c> (e.g. <c>app.feature</c>); none by default.</summary>
    [MaxLength(256, ErrorMessage = "Live:FeatureAttribute must be at most 256 characters.")]
    public string? FeatureAttribute { get; set; }

    /// <summary>A span attribute that carries a hash (or id) of the prompt, so repeated prompts are found.</summary>
    [MaxLength(256, ErrorMessage = "Live:PromptHashAttribute must be at most 256 characters.")]
    public string? PromptHashAttribute { get; set; } = "gen_ai.prompt.hash";

    /// <summary>Seconds a webhook receiver has to answer one delivery attempt.</summary>
    [Range(1, 300, ErrorMessage = "Live:WebhookTimeoutSeconds must be between 1 and 300.")]
    public int WebhookTimeoutSeconds { get; set; } = 10;
}

internal static class LiveLimits
{
    public const int MaxKeyNameLength = 100;
    public const int MaxWebhookUrlLength = 2000;
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 200;

    /// <summary>
    /// A live dataset's newest chunk is rewritten with each batch until it holds this many rows, then a new
    /// one starts: small enough to re-encode per batch, large enough that the agent reads few chunks.
    /// </summary>
    public const int LiveChunkRows = 8192;

    /// <summary>Webhook attempts per alert (1 s, 2 s, 4 s, 8 s between them).</summary>
    public const int WebhookAttempts = 5;
}
