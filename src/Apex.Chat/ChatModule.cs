using Apex.Chat.Api;
using Apex.Chat.Data;
using Apex.Chat.Runs;
using Apex.Hosting;
using Apex.Realtime.Gateway;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Apex.Chat;

public static class ChatModule
{
    /// <summary>Registers threads, messages, runs (starter, driver, journal) and the single-node run cluster.</summary>
    public static WebApplicationBuilder AddApexChat(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<ChatOptions>().BindConfiguration(ChatOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddApexDbContext<ChatDbContext>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<RunRegistry>();
        services.AddSingleton<ThreadAnnouncer>();
        services.AddSingleton<RunJournal>();
        services.AddSingleton<RunDriver>();
        services.AddSingleton<RunStarter>();
        services.AddSingleton<IRunCommandHandler>(sp => sp.GetRequiredService<RunStarter>());
        // The cluster hook: one node by default; a scale-out module replaces it and reaches this
        // node's runs through IRunNode.
        services.TryAddSingleton<IRunCluster, SingleNodeRunCluster>();
        services.AddSingleton<IRunNode, LocalRunNode>();
        services.AddHostedService<RunLifecycleService>();
        ChatMetrics.Initialize();
        return builder;
    }

    /// <summary>Maps the thread, message and run routes of docs/spec/rest-api.md.</summary>
    public static IEndpointRouteBuilder MapApexChat(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapChatRoutes();
        return endpoints;
    }
}
