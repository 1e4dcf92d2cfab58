using Apex.Realtime.Broker;
using Apex.Realtime.Gateway;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Apex.Realtime;

public static class RealtimeModule
{
    private const string WebSocketsInPipeline = "Apex.Realtime.WebSocketsInPipeline";

    /// <summary>The gateway's paths: the main one and the aliases older clients use.</summary>
    public static readonly IReadOnlyList<string> Paths = ["/ws", "/websocket", "/api/v1/websocket"];

    /// <summary>Registers the event broker (by configuration) and the WebSocket gateway.</summary>
    public static WebApplicationBuilder AddApexRealtime(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddOptions<BrokerOptions>().BindConfiguration(BrokerOptions.Section).ValidateDataAnnotations()
            .Validate(o => IsKnownProvider(o.Provider),
                $"Broker:Provider must be one of: {string.Join(", ", BrokerOptions.KnownProviders)}.")
            .ValidateOnStart();
        services.AddOptions<GatewayOptions>().BindConfiguration(GatewayOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);

        services.AddSingleton<MemoryEventBroker>();
        services.AddSingleton<IEventBroker>(sp =>
        {
            var provider = sp.GetRequiredService<IOptions<BrokerOptions>>().Value.Provider;
            return new TracedEventBroker(provider.ToLowerInvariant() switch
            {
                BrokerOptions.MemoryProvider => sp.GetRequiredService<MemoryEventBroker>(),
                BrokerOptions.RedisProvider => sp.GetKeyedService<IEventBroker>(BrokerOptions.RedisProvider)
                    ?? throw new InvalidOperationException("Broker:Provider 'redis' needs Redis:Configuration and the Redis module."),
                _ => throw new InvalidOperationException($"Broker:Provider '{provider}' is not supported; use one of: {string.Join(", ", BrokerOptions.KnownProviders)}."),
            });
        });

        services.AddSingleton<GatewayServices>();
        services.AddSingleton<ConnectionRegistry>();
        services.AddHostedService(sp => sp.GetRequiredService<ConnectionRegistry>());
        services.AddSingleton<WebSocketGateway>();
        return builder;
    }

    /// <summary>
    /// Serves WebSocket upgrades to the gateway's paths as middleware. Put it ahead of routing, CORS,
    /// authentication, authorization and rate limiting: a socket's request lasts as long as the
    /// socket, and every middleware it passed keeps its state (its awaiting frame, the request's
    /// service scope, an authentication result with its principal) referenced until it closes. The
    /// gateway needs none of them: it authenticates the token itself and answers refusals with the
    /// same problem JSON as its endpoint. Requests that are not upgrades go on to the endpoints of
    /// <see cref="MapApexRealtime"/>.
    /// </summary>
    public static IApplicationBuilder UseApexRealtimeUpgrades(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseWebSockets();
        app.Properties[WebSocketsInPipeline] = true;
        var gateway = app.ApplicationServices.GetRequiredService<WebSocketGateway>();
        return app.Use((context, next) =>
            IsGatewayPath(context.Request.Path) && context.WebSockets.IsWebSocketRequest
                ? gateway.ServeAsync(context)
                : next(context));
    }

    /// <summary>Maps <c>/ws</c> and its aliases.</summary>
    public static IEndpointRouteBuilder MapApexRealtime(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (endpoints is IApplicationBuilder app && !app.Properties.ContainsKey(WebSocketsInPipeline))
        {
            app.UseWebSockets();
        }

        // The gateway authenticates itself (header or subprotocol) so it can refuse before the
        // upgrade with the protocol's problem body; it is not part of the REST API description.
        var group = endpoints.MapGroup(string.Empty).AllowAnonymous().ExcludeFromDescription();
        foreach (var path in Paths)
        {
            group.Map(path, static (HttpContext context, WebSocketGateway gateway) => gateway.ServeAsync(context));
        }

        return endpoints;
    }

    /// <summary>The paths as routing matches them: any case, with or without a trailing slash.</summary>
    internal static bool IsGatewayPath(PathString path)
    {
        var value = path.Value;
        if (string.IsNullOrEmpty(value))
        {
            return false;
        }

        var trimmed = value.Length > 1 && value[^1] == '/' ? value.AsSpan(0, value.Length - 1) : value.AsSpan();
        foreach (var candidate in Paths)
        {
            if (trimmed.Equals(candidate, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsKnownProvider(string? provider) =>
        provider is not null && BrokerOptions.KnownProviders.Contains(provider.ToLowerInvariant(), StringComparer.Ordinal);
}
