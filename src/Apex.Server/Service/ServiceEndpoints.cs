namespace Apex.Server.Service;

/// <summary>Health, readiness, public config, OpenAPI and metrics (rest-api.md "Service").</summary>
public static class ServiceEndpoints
{
    public static WebApplicationBuilder AddApexService(this WebApplicationBuilder builder)
    {
        return builder;
    }

    public static IEndpointRouteBuilder MapApexService(this IEndpointRouteBuilder endpoints)
    {
        return endpoints;
    }
}
