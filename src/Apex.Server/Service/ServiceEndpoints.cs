using System.Diagnostics;
using System.Reflection;
using Apex.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Prometheus;

namespace Apex.Server.Service;

/// <summary>Health, readiness, public config, OpenAPI and metrics (docs/spec/rest-api.md "Service").</summary>
public static class ServiceEndpoints
{
    public static WebApplicationBuilder AddApexService(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<ServiceOptions>().BindConfiguration(ServiceOptions.Section)
            .ValidateDataAnnotations()
            .Validate(o => o.WsUrl is null || (Uri.TryCreate(o.WsUrl, UriKind.Absolute, out var u) && u.Scheme is "ws" or "wss"),
                "Service:WsUrl must be an absolute ws:// or wss:// URL.")
            .ValidateOnStart();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ServiceInfo>();
        builder.Services.AddApexHealthChecks();
        builder.Services.AddOpenApi();
        return builder;
    }

    public static IEndpointRouteBuilder MapApexService(this IEndpointRouteBuilder endpoints)
    {
        var role = endpoints.ServiceProvider.GetRequiredService<IOptions<ApexOptions>>().Value.Role;
        var options = endpoints.ServiceProvider.GetRequiredService<IOptions<ServiceOptions>>().Value;

        var service = endpoints.MapGroup(string.Empty).AllowAnonymous().WithTags("Service");
        service.MapGet("/health", (ServiceInfo info, HealthCheckService health, CancellationToken ct) =>
            HealthAsync(ServiceInfo.ServiceName, info, health, ct)).WithName("Health");
        if (role != ServerRole.Api)
        {
            service.MapGet("/auth/health", (ServiceInfo info, HealthCheckService health, CancellationToken ct) =>
                HealthAsync(ServiceInfo.AuthServiceName, info, health, ct)).WithName("AuthHealth");
        }

        service.MapGet("/health/live", () => TypedResults.Ok(new LiveResponse("alive"))).WithName("Live");
        service.MapGet("/health/ready", ReadyAsync).WithName("Ready");
        service.MapGet("/api/config/public", PublicConfig).WithName("PublicConfig");
        service.MapOpenApi("/openapi/{documentName}.json");

        var environment = endpoints.ServiceProvider.GetRequiredService<IHostEnvironment>();
        if (MetricsServed(options.Metrics, environment))
        {
            var port = options.Metrics.Port;
            var token = options.Metrics.BearerToken is { Length: > 0 } t ? System.Text.Encoding.UTF8.GetBytes("Bearer " + t) : null;
            service.MapMetrics("/metrics").Add(endpoint =>
            {
                var inner = endpoint.RequestDelegate!;
                endpoint.RequestDelegate = context =>
                {
                    if (port is { } p && context.Connection.LocalPort != p)
                    {
                        context.Response.StatusCode = StatusCodes.Status404NotFound;
                        return Task.CompletedTask;
                    }

                    if (token is not null && !System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
                            System.Text.Encoding.UTF8.GetBytes(context.Request.Headers.Authorization.ToString()), token))
                    {
                        context.Response.Headers.WWWAuthenticate = "Bearer";
                        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                        return Task.CompletedTask;
                    }

                    return inner(context);
                };
            });
        }

        return endpoints;
    }

    /// <summary>
    /// Metrics describe the whole deployment: outside Development they are served only when a
    /// management port or a bearer token keeps them off the public listener.
    /// </summary>
    internal static bool MetricsServed(MetricsOptions metrics, IHostEnvironment environment) =>
        metrics.Enabled && (environment.IsDevelopment() || metrics.Port is not null || !string.IsNullOrEmpty(metrics.BearerToken));

    private static async Task<Results<Ok<HealthResponse>, JsonHttpResult<HealthResponse>>> HealthAsync(
        string serviceName, ServiceInfo info, HealthCheckService health, CancellationToken ct)
    {
        var report = await health.CheckHealthAsync(ct);
        var checks = Describe(report);
        var response = new HealthResponse(
            report.Status == HealthStatus.Unhealthy ? "unhealthy" : "healthy",
            serviceName,
            info.Version,
            Math.Round(info.Uptime.TotalSeconds, 1),
            checks.GetValueOrDefault(HealthCheckNames.Database, "unknown"),
            checks);
        return report.Status == HealthStatus.Unhealthy
            ? TypedResults.Json(response, statusCode: StatusCodes.Status503ServiceUnavailable)
            : TypedResults.Ok(response);
    }

    private static async Task<Results<Ok<ReadyResponse>, JsonHttpResult<ReadyResponse>>> ReadyAsync(
        HealthCheckService health, CancellationToken ct)
    {
        // Readiness is exactly the two dependencies of docs/spec/rest-api.md, each bounded by Service:HealthTimeoutMs.
        var report = await health.CheckHealthAsync(r => r.Name is HealthCheckNames.Database or HealthCheckNames.EventBus, ct);
        var checks = Describe(report);
        return report.Status == HealthStatus.Unhealthy
            ? TypedResults.Json(new ReadyResponse("not_ready", checks), statusCode: StatusCodes.Status503ServiceUnavailable)
            : TypedResults.Ok(new ReadyResponse("ready", checks));
    }

    private static Ok<PublicConfigResponse> PublicConfig(
        HttpRequest request, ServiceInfo info, IHostEnvironment environment, IOptions<ApexOptions> apex, IOptions<ServiceOptions> service,
        IOptions<Apex.Chat.Datasets.DatasetsOptions> datasets)
    {
        var baseUrl = PublicAddress.BaseUrl(request.HttpContext, apex.Value);
        var wsBase = baseUrl.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
            ? string.Concat("wss://", baseUrl.AsSpan("https://".Length))
            : baseUrl.StartsWith("http://", StringComparison.OrdinalIgnoreCase) ? string.Concat("ws://", baseUrl.AsSpan("http://".Length)) : baseUrl;
        var role = apex.Value.Role;
        var features = new Dictionary<string, bool>
        {
            ["chat"] = role != ServerRole.Auth,
            ["datasets"] = role != ServerRole.Auth,
            ["websocket"] = role != ServerRole.Auth,
            ["metrics"] = MetricsServed(service.Value.Metrics, environment),
        };
        return TypedResults.Ok(new PublicConfigResponse(
            ServiceInfo.AppName,
            info.Version,
            environment.EnvironmentName,
            service.Value.AuthUrl ?? $"{baseUrl}/auth",
            service.Value.WsUrl ?? $"{wsBase}/ws",
            features,
            new PublicLimits(datasets.Value.MaxUploadBytes, Apex.Chat.ChatLimits.MaxMessageLength)));
    }

    private static Dictionary<string, string> Describe(HealthReport report) =>
        report.Entries.ToDictionary(
            e => e.Key,
            e => e.Value.Status switch
            {
                HealthStatus.Unhealthy when e.Value.Exception is OperationCanceledException => "timeout",
                HealthStatus.Unhealthy => "error",
                HealthStatus.Degraded => "degraded",
                _ when e.Value.Description == EventBusHealthCheck.NotApplicable => EventBusHealthCheck.NotApplicable,
                _ => "ok",
            });
}

/// <summary>What every health answer reports about the process itself.</summary>
internal sealed class ServiceInfo(TimeProvider time)
{
    public const string AppName = "Apex";
    public const string ServiceName = "apex";
    public const string AuthServiceName = "apex-auth";

    private readonly long _started = time.GetTimestamp();

    public string Version { get; } = ReadVersion();

    public TimeSpan Uptime => time.GetElapsedTime(_started);

    private static string ReadVersion()
    {
        var informational = typeof(ServiceInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        // "0.1.0+<commit>": the build metadata is noise for clients.
        return informational?.Split('+')[0] ?? typeof(ServiceInfo).Assembly.GetName().Version?.ToString() ?? "0.0.0";
    }
}

public sealed record HealthResponse(
    string Status, string Service, string Version, double UptimeSeconds, string Database, IReadOnlyDictionary<string, string> Checks);

public sealed record ReadyResponse(string Status, IReadOnlyDictionary<string, string> Checks);

public sealed record LiveResponse(string Status);

public sealed record PublicConfigResponse(
    string AppName, string Version, string Environment, string AuthUrl, string WsUrl, IReadOnlyDictionary<string, bool> Features,
    PublicLimits Limits);

/// <summary>Limits the server enforces, so the web app checks the same numbers before sending.</summary>
public sealed record PublicLimits(long MaxUploadBytes, int MaxMessageChars);
