using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Apex.Chat.Live;

/// <summary>One alert to POST to a budget's webhook.</summary>
internal sealed record WebhookDelivery(string AlertId, string Url, string Secret, string Body);

/// <summary>
/// Delivers alert webhooks in the background, so ingestion never waits on a receiver: each body is
/// signed (<c>X-Apex-Signature: sha256=hex(HMAC-SHA256(secret, "{timestamp}.{body}"))</c> with
/// <c>X-Apex-Timestamp</c>) and retried on network errors and 5xx after 1, 2, 4 and 8 seconds, five
/// attempts in all. Deliveries wait in a bounded queue; when it is full the alert is still stored and
/// published on the stream, and the dropped delivery is logged. The secret is never logged.
/// </summary>
internal sealed partial class WebhookWorker(IHttpClientFactory clients, TimeProvider time, IOptions<LiveOptions> options, ILogger<WebhookWorker> logger)
    : BackgroundService
{
    public const string ClientName = "apex-webhooks";
    private const int QueueCapacity = 1000;
    private const int Concurrency = 4;

    private readonly Channel<WebhookDelivery> _queue = Channel.CreateBounded<WebhookDelivery>(
        new BoundedChannelOptions(QueueCapacity) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    public void Enqueue(WebhookDelivery delivery)
    {
        if (!_queue.Writer.TryWrite(delivery))
        {
            LogDropped(logger, delivery.AlertId);
        }
    }

    /// <summary>The signature header value for <paramref name="body"/> sent at <paramref name="timestamp"/>.</summary>
    public static string Sign(string secret, string timestamp, string body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(timestamp + "." + body)));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var slots = new SemaphoreSlim(Concurrency);
        var running = new List<Task>();
        try
        {
            await foreach (var delivery in _queue.Reader.ReadAllAsync(stoppingToken))
            {
                await slots.WaitAsync(stoppingToken);
                running.RemoveAll(t => t.IsCompleted);
                running.Add(Task.Run(async () =>
                {
                    try
                    {
                        await DeliverAsync(delivery, stoppingToken);
                    }
                    finally
                    {
                        slots.Release();
                    }
                }, CancellationToken.None));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: deliveries in flight stop at their next wait.
        }

        await Task.WhenAll(running);
    }

    private async Task DeliverAsync(WebhookDelivery delivery, CancellationToken ct)
    {
        var client = clients.CreateClient(ClientName);
        var timeout = TimeSpan.FromSeconds(options.Value.WebhookTimeoutSeconds);
        for (var attempt = 1; attempt <= LiveLimits.WebhookAttempts; attempt++)
        {
            string outcome;
            try
            {
                var timestamp = time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
                using var request = new HttpRequestMessage(HttpMethod.Post, delivery.Url)
                {
                    Content = new StringContent(delivery.Body, Encoding.UTF8, new MediaTypeHeaderValue("application/json")),
                };
                request.Headers.Add("X-Apex-Timestamp", timestamp);
                request.Headers.Add("X-Apex-Signature", Sign(delivery.Secret, timestamp, delivery.Body));
                using var attemptCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
                attemptCts.CancelAfter(timeout);
                using var response = await client.SendAsync(request, attemptCts.Token);
                var status = (int)response.StatusCode;
                if (status < 500)
                {
                    LogDelivered(logger, delivery.AlertId, status, attempt);
                    return;
                }

                outcome = status.ToString(CultureInfo.InvariantCulture);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
            {
                outcome = e is OperationCanceledException ? "timeout" : "network error";
            }

            if (attempt == LiveLimits.WebhookAttempts)
            {
                LogGaveUp(logger, delivery.AlertId, attempt, outcome);
                return;
            }

            var delay = TimeSpan.FromSeconds(1 << (attempt - 1));
            LogRetry(logger, delivery.AlertId, attempt, outcome, delay.TotalSeconds);
            try
            {
                await Task.Delay(delay, time, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(EventId = 4421, Level = LogLevel.Information, Message = "Alert {AlertId}: webhook answered {Status} on attempt {Attempt}")]
    private static partial void LogDelivered(ILogger logger, string alertId, int status, int attempt);

    [LoggerMessage(EventId = 4422, Level = LogLevel.Warning, Message = "Alert {AlertId}: webhook attempt {Attempt} failed ({Outcome}); next in {DelaySeconds} s")]
    private static partial void LogRetry(ILogger logger, string alertId, int attempt, string outcome, double delaySeconds);

    [LoggerMessage(EventId = 4423, Level = LogLevel.Error, Message = "Alert {AlertId}: webhook not delivered after {Attempts} attempts (last: {Outcome})")]
    private static partial void LogGaveUp(ILogger logger, string alertId, int attempts, string outcome);

    [LoggerMessage(EventId = 4424, Level = LogLevel.Warning, Message = "Alert {AlertId}: the webhook queue is full; the delivery was dropped (the alert is stored and was published)")]
    private static partial void LogDropped(ILogger logger, string alertId);
}
