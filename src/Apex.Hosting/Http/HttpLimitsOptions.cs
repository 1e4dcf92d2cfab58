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

    /// <summary>
    /// The ceilings Kestrel enforces while it reads the request line and headers. Kestrel answers a
    /// request over them itself, before any application code, with a status and no body; Apex's own
    /// limits below sit under these, so a request over Apex's limit reaches the application and gets
    /// problem JSON. Only a request over a ceiling (8 times the default limit) gets Kestrel's bare answer.
    /// </summary>
    public const int RequestLineCeilingBytes = 64 * 1024;

    /// <inheritdoc cref="RequestLineCeilingBytes"/>
    public const int RequestHeadersCeilingBytes = 256 * 1024;

    /// <summary>The longest request target (path and query, as sent) Apex serves; longer gets 414.</summary>
    [Range(256, RequestLineCeilingBytes - 1024, ErrorMessage = "Http:MaxRequestTargetBytes must be between 256 and 64512.")]
    public int MaxRequestTargetBytes { get; set; } = 8 * 1024;

    /// <summary>The largest total of request header names and values Apex serves; larger gets 431.</summary>
    [Range(1024, RequestHeadersCeilingBytes, ErrorMessage = "Http:MaxRequestHeadersBytes must be between 1024 and 262144.")]
    public int MaxRequestHeadersBytes { get; set; } = 32 * 1024;

    /// <summary>Seconds HSTS tells browsers to use HTTPS only (sent on HTTPS responses).</summary>
    [Range(0, int.MaxValue)]
    public int HstsMaxAgeSeconds { get; set; } = 365 * 24 * 3600;
}

/// <summary>Route metadata raising or lowering the body size limit of one route or group.</summary>
public sealed class RequestSizeLimit(long? maxRequestBodySize) : Microsoft.AspNetCore.Http.Metadata.IRequestSizeLimitMetadata
{
    public long? MaxRequestBodySize { get; } = maxRequestBodySize;
}
