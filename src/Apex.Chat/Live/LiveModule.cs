using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Apex.Chat.Live;

/// <summary>Live usage: ingest keys, the OTLP receiver, live datasets, budgets and alerts.</summary>
public static class LiveModule
{
    public static WebApplicationBuilder AddApexLive(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<LiveOptions>().BindConfiguration(LiveOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IngestKeyStore>();
        services.AddSingleton<LiveUsageStore>();
        services.AddSingleton<OtlpRateLimiter>();
        services.AddSingleton<BudgetEvaluator>();
        services.AddSingleton<WebhookWorker>();
        services.AddHostedService(sp => sp.GetRequiredService<WebhookWorker>());
        services.AddHostedService<LiveRetentionService>();
        // Webhook receivers are the owner's; redirects are not followed so a signed body goes only where it was sent.
        services.AddHttpClient(WebhookWorker.ClientName).ConfigurePrimaryHttpMessageHandler(() => new HttpClientHandler { AllowAutoRedirect = false });
        return builder;
    }

    public static IEndpointRouteBuilder MapApexLive(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapLiveRoutes();
        return endpoints;
    }
}

/// <summary>Drops live rows older than <c>Live:RetentionDays</c>: at start, then every hour.</summary>
internal sealed partial class LiveRetentionService(LiveUsageStore store, TimeProvider time, IOptions<LiveOptions> options, ILogger<LiveRetentionService> logger)
    : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        do
        {
            try
            {
                var cutoff = time.GetUtcNow() - TimeSpan.FromDays(options.Value.RetentionDays);
                var dropped = await store.DropOlderThanAsync(cutoff, stoppingToken);
                if (dropped > 0)
                {
                    LogDropped(logger, dropped, options.Value.RetentionDays);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException && e is not OutOfMemoryException)
            {
                LogFailed(logger, e);
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = 4431, Level = LogLevel.Information, Message = "Live retention: dropped {Rows} rows older than {Days} days")]
    private static partial void LogDropped(ILogger logger, long rows, int days);

    [LoggerMessage(EventId = 4432, Level = LogLevel.Warning, Message = "Live retention pass failed; it runs again in an hour")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
