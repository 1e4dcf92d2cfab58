using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Apex.Contracts;
using Apex.Realtime.Broker;
using Apex.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Apex.Verify.Tests;

/// <summary>Real Apex deployments for the checker: single process, split auth + API, and broken variants.</summary>
internal static class Deployments
{
    /// <summary>The auth service's JWKS address as the API role is told it (the auth module's key).</summary>
    public const string JwksUrlKey = "Auth:JwksUrl";

    public static Task<ApexTestServer> SingleAsync(IDictionary<string, string?>? settings = null, Action<WebApplicationBuilder>? configure = null) =>
        ApexTestServer.StartAsync(settings, configure);

    /// <summary>
    /// <c>--role auth</c> and <c>--role api</c> as two servers; the API validates tokens against the
    /// auth server's JWKS. <paramref name="allowedOrigins"/> go to both (CORS and the WebSocket Origin check).
    /// </summary>
    public static async Task<(ApexTestServer Auth, ApexTestServer Api)> SplitAsync(string? allowedOrigin = null, Action<WebApplicationBuilder>? configureApi = null)
    {
        var authSettings = new Dictionary<string, string?> { ["Apex:Role"] = "Auth" };
        if (allowedOrigin is not null)
        {
            authSettings["Apex:AllowedOrigins:0"] = allowedOrigin;
        }

        var auth = await ApexTestServer.StartAsync(authSettings);
        try
        {
            var apiSettings = new Dictionary<string, string?>
            {
                ["Apex:Role"] = "Api",
                [JwksUrlKey] = new Uri(auth.BaseAddress, "/.well-known/jwks.json").ToString(),
                ["Service:AuthUrl"] = auth.BaseAddress.ToString().TrimEnd('/'),
            };
            if (allowedOrigin is not null)
            {
                apiSettings["Apex:AllowedOrigins:0"] = allowedOrigin;
            }

            var api = await ApexTestServer.StartAsync(apiSettings, configureApi);
            return (auth, api);
        }
        catch
        {
            await auth.DisposeAsync();
            throw;
        }
    }

    /// <summary>Middleware in front of the gateway that refuses every upgrade offering a subprotocol.</summary>
    public static void RefuseSubprotocols(WebApplicationBuilder builder) =>
        builder.Services.AddSingleton<IStartupFilter>(new FrontFilter(async (context, next) =>
        {
            if (context.Request.Headers.ContainsKey("Sec-WebSocket-Protocol"))
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                await context.Response.WriteAsJsonAsync(new { type = "about:blank", title = "Bad Request", status = 400, detail = "subprotocols are not supported" });
                return;
            }

            await next(context);
        }));

    /// <summary>Replaces the event broker with one that also delivers every event to every other subscribed user.</summary>
    public static void LeakEventsAcrossUsers(WebApplicationBuilder builder)
    {
        var original = builder.Services.Last(d => d.ServiceType == typeof(IEventBroker));
        builder.Services.Remove(original);
        builder.Services.AddSingleton<IEventBroker>(sp => new LeakingBroker((IEventBroker)original.ImplementationFactory!(sp)));
    }

    public static void Agent(WebApplicationBuilder builder, ScriptedAgent agent) => ScriptedAgent.Register(builder, agent);

    /// <summary>A free loopback port (for a server whose address must be known before it starts).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class FrontFilter(Func<HttpContext, RequestDelegate, Task> middleware) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(middleware);
            next(app);
        };
    }

    private sealed class LeakingBroker(IEventBroker inner) : IEventBroker
    {
        private readonly ConcurrentDictionary<string, byte> _subscribers = new(StringComparer.Ordinal);

        public async ValueTask<EventEnvelope> PublishAsync(string userId, EventEnvelope envelope, CancellationToken ct)
        {
            var published = await inner.PublishAsync(userId, envelope, ct);
            foreach (var other in _subscribers.Keys.Where(u => u != userId))
            {
                await inner.PublishAsync(other, envelope with { Seq = null }, ct);
            }

            return published;
        }

        public ValueTask<IAsyncDisposable> SubscribeAsync(string userId, StreamPosition? resumeFrom, IStreamSubscriber subscriber, CancellationToken ct)
        {
            _subscribers.TryAdd(userId, 0);
            return inner.SubscribeAsync(userId, resumeFrom, subscriber, ct);
        }

        public ValueTask<StreamPosition> GetPositionAsync(string userId, CancellationToken ct) => inner.GetPositionAsync(userId, ct);
    }
}

/// <summary>
/// A tiny static web app on its own origin (the web tier of a split deployment): one page with the
/// security headers and one script.
/// </summary>
internal sealed class StaticWebApp : IAsyncDisposable
{
    private readonly WebApplication _app;

    private StaticWebApp(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    public Uri Address { get; }
    public string Origin => Address.GetLeftPart(UriPartial.Authority);

    public static async Task<StaticWebApp> StartAsync(int? port = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port ?? 0}");
        var app = builder.Build();
        app.Use(async (context, next) =>
        {
            context.Response.Headers["X-Content-Type-Options"] = "nosniff";
            context.Response.Headers["Referrer-Policy"] = "strict-origin-when-cross-origin";
            context.Response.Headers["X-Frame-Options"] = "DENY";
            context.Response.Headers["Content-Security-Policy"] = "default-src 'self'; connect-src 'self' http://127.0.0.1:* ws://127.0.0.1:*; frame-ancestors 'none'";
            await next(context);
        });
        app.MapGet("/", () => Results.Content("<!doctype html><html><head><title>Apex</title><script type=\"module\" src=\"/assets/app.js\"></script></head><body><div id=\"root\"></div></body></html>", "text/html"));
        app.MapGet("/assets/app.js", () => Results.Content("console.log('apex');", "text/javascript"));
        await app.StartAsync();
        var address = app.Urls.First();
        return new StaticWebApp(app, new Uri(address));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
