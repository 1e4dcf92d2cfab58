using System.ComponentModel.DataAnnotations;

namespace Apex.Hosting.Http;

/// <summary>Section <c>Http</c>: request limits applied to every route unless a route sets its own.</summary>
public sealed class HttpLimitsOptions
{
    public const string Section = "Http";

    /// <summary>1 MiB: JSON bodies of the API are small; uploads declare a larger limit on their route.</summary>
    public const long DefaultMaxRequestBodyBytes = 1024 * 1024;

    [Range(1024, long.MaxValue)]
    public long MaxRequestBodyBytes { get; set; } = DefaultMaxRequestBodyBytes;

    /// <summary>Seconds HSTS tells browsers to use HTTPS only (sent on HTTPS responses).</summary>
    [Range(0, int.MaxValue)]
    public int HstsMaxAgeSeconds { get; set; } = 365 * 24 * 3600;
}

/// <summary>Route metadata raising or lowering the body size limit of one route or group.</summary>
public sealed class RequestSizeLimit(long? maxRequestBodySize) : Microsoft.AspNetCore.Http.Metadata.IRequestSizeLimitMetadata
{
    public long? MaxRequestBodySize { get; } = maxRequestBodySize;
}
