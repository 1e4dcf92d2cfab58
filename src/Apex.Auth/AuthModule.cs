using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;

namespace Apex.Auth;

public static class AuthModule
{
    /// <summary>Registers the auth services: options, storage, tokens, authentication scheme.</summary>
    public static WebApplicationBuilder AddApexAuth(this WebApplicationBuilder builder)
    {
        return builder;
    }

    /// <summary>Maps the routes of auth-api.md.</summary>
    public static IEndpointRouteBuilder MapApexAuth(this IEndpointRouteBuilder endpoints)
    {
        return endpoints;
    }
}
