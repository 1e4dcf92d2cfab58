using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Apex.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Trace;

namespace Apex.Chat.Tests.Live;

/// <summary>
/// Budgets on a live dataset: spans sent with the OpenTelemetry SDK cross the monthly budget, a
/// feature's budget and the recent days' spend, and each alert arrives once on the owner's WebSocket and
/// at a webhook receiver this test runs on loopback (its first answer a 503, so the retry is exercised),
/// signed with the secret the budget route gave.
/// </summary>
public sealed class BudgetAlertTests : IAsyncLifetime
{
    private ApexTestServer _server = null!;
    private WebApplication _receiver = null!;
    private readonly Channel<(string Body, string Timestamp, string Signature)> _hooks = Channel.CreateUnbounded<(string, string, string)>();
    private int _hookCalls;

    public async Task InitializeAsync()
    {
        _server = await ApexTestServer.StartWithCatalogAsync(OtlpReceiverTests.CatalogJson);

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _receiver = builder.Build();
        _receiver.MapPost("/hook", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            if (Interlocked.Increment(ref _hookCalls) == 1)
            {
                // The first delivery fails as a receiver that is restarting would: it must be retried.
                return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
            }

            _hooks.Writer.TryWrite((body, context.Request.Headers["X-Apex-Timestamp"].ToString(), context.Request.Headers["X-Apex-Signature"].ToString()));
            return Results.NoContent();
        });
        await _receiver.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _receiver.StopAsync();
        await _receiver.DisposeAsync();
        await _server.DisposeAsync();
    }

    private Uri ReceiverUrl => new(_receiver.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/hook");

    [Fact(Timeout = 90_000)]
    public async Task Crossing_a_budget_sends_each_alert_once_on_the_WebSocket_and_to_the_signed_webhook()
    {
        using var alice = await ChatUser.CreateAsync(_server);
        using var bob = await ChatUser.CreateAsync(_server);
        var (_, key, datasetId) = await OtlpReceiverTests.CreateKeyAsync(alice, "prod-app");

        // Budget routes: validation, owner scope, the secret shown once.
        var (invalid, problem) = await alice.SendAsync(HttpMethod.Put, $"/api/datasets/{datasetId}/budget", new { monthly_usd = -1, spike_factor = 0.5 });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, invalid);
        Assert.True(problem.GetProperty("errors").TryGetProperty("monthly_usd", out _));
        Assert.True(problem.GetProperty("errors").TryGetProperty("spike_factor", out _));
        var (badUrl, _) = await alice.SendAsync(HttpMethod.Put, $"/api/datasets/{datasetId}/budget", new { monthly_usd = 1, webhook_url = "http://example.com/hook" });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, badUrl);
        var (none, _) = await alice.GetAsync($"/api/datasets/{datasetId}/budget");
        Assert.Equal(HttpStatusCode.NotFound, none);
        var budgetBody = new { monthly_usd = 0.6, features = new Dictionary<string, double> { ["support-chat"] = 0.2 }, webhook_url = ReceiverUrl.ToString() };
        var (notBobs, _) = await bob.SendAsync(HttpMethod.Put, $"/api/datasets/{datasetId}/budget", budgetBody);
        Assert.Equal(HttpStatusCode.NotFound, notBobs);
        var (set, budget) = await alice.SendAsync(HttpMethod.Put, $"/api/datasets/{datasetId}/budget", budgetBody);
        Assert.Equal(HttpStatusCode.OK, set);
        var secret = budget.Str("webhook_secret")!;
        Assert.False(string.IsNullOrEmpty(secret));
        Assert.Equal(3, budget.GetProperty("spike_factor").GetDouble());
        Assert.Equal(0.2, budget.GetProperty("features").GetProperty("support-chat").GetDouble());
        var (got, stored) = await alice.GetAsync($"/api/datasets/{datasetId}/budget");
        Assert.Equal(HttpStatusCode.OK, got);
        Assert.False(stored.TryGetProperty("webhook_secret", out _));
        Assert.Equal(ReceiverUrl.ToString(), stored.Str("webhook_url"));

        await using var ws = await TestSocket.ConnectAsync(_server, alice.User.AccessToken);

        // The recent days: one tiny call a day on the two days before today.
        var now = DateTimeOffset.UtcNow;
        var small = 10 * 0.5 / 1e6 + 5 * 2 / 1e6;
        var past = OtlpReceiverTests.OtlpJson("baseline-svc",
            OtlpReceiverTests.Span(now.AddDays(-1), 100, ("gen_ai.request.model", OtlpReceiverTests.Str("small-2")), ("gen_ai.usage.input_tokens", OtlpReceiverTests.Int(10)), ("gen_ai.usage.output_tokens", OtlpReceiverTests.Int(5))),
            OtlpReceiverTests.Span(now.AddDays(-2), 100, ("gen_ai.request.model", OtlpReceiverTests.Str("small-2")), ("gen_ai.usage.input_tokens", OtlpReceiverTests.Int(10)), ("gen_ai.usage.output_tokens", OtlpReceiverTests.Int(5))));
        using (var response = await OtlpReceiverTests.PostOtlpAsync(_server, key, past))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var (_, quiet) = await alice.GetAsync("/api/alerts");
        Assert.Empty(quiet.GetProperty("items").EnumerateArray());

        // Today: 40 calls of $0.025 on support-chat, sent by the SDK.
        var start = now.AddMinutes(-2);
        using (var tracer = OtlpReceiverTests.Tracer(key, "support-chat", out var source, _server))
        {
            for (var i = 0; i < 40; i++)
            {
                OtlpReceiverTests.Emit(source, start.AddMilliseconds(i), 500, "big-4", 1000, 500, 0, error: false, prompt: $"p{i}");
            }

            Assert.True(tracer.ForceFlush(30_000));
            source.Dispose();
        }

        var frames = new List<JsonElement>();
        while (frames.Count < 3)
        {
            var read = await ws.ReadUntilAsync(f => f.Type() == "usage_alert", TimeSpan.FromSeconds(30));
            frames.Add(read[^1]);
        }

        Assert.All(frames, f =>
        {
            Assert.Equal("apex", f.Str("agent_name"));
            Assert.Null(f.Str("thread_id"));
            Assert.Null(f.Str("run_id"));
        });
        var alerts = frames.Select(f => f.GetProperty("payload").GetProperty("alert")).ToDictionary(a => a.Str("kind")!);
        Assert.Equal(["budget_projected", "daily_spike", "feature_budget_projected"], alerts.Keys.Order());

        var today = 40 * 0.025;
        var total = alerts["budget_projected"];
        var created = DateTimeOffset.Parse(total.Str("created_at")!, CultureInfo.InvariantCulture).UtcDateTime;
        var monthStart = new DateTime(created.Year, created.Month, 1, 0, 0, 0, DateTimeKind.Utc);
        var elapsed = (created.Date - monthStart).Days + 1;
        var daysInMonth = DateTime.DaysInMonth(created.Year, created.Month);
        var pastInMonth = new[] { now.AddDays(-1), now.AddDays(-2) }.Count(d => d.UtcDateTime >= monthStart) * small;
        Assert.Equal(datasetId, total.Str("dataset_id"));
        Assert.Equal("prod-app", total.Str("dataset_name"));
        Assert.Equal(created.ToString("yyyy-MM", CultureInfo.InvariantCulture), total.Str("month"));
        Assert.Equal(0.6, total.GetProperty("budget_usd").GetDouble());
        Assert.Equal(today + pastInMonth, total.GetProperty("spent_usd").GetDouble(), 6);
        Assert.Equal((today + pastInMonth) / elapsed * daysInMonth, total.GetProperty("projected_usd").GetDouble(), 5);
        Assert.Equal(JsonValueKind.Null, total.GetProperty("feature").ValueKind);
        Assert.Equal(JsonValueKind.Null, total.GetProperty("day").ValueKind);

        var feature = alerts["feature_budget_projected"];
        Assert.Equal("support-chat", feature.Str("feature"));
        Assert.Equal(0.2, feature.GetProperty("budget_usd").GetDouble());
        Assert.Equal(today, feature.GetProperty("spent_usd").GetDouble(), 6);

        var spike = alerts["daily_spike"];
        Assert.Equal(start.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), spike.Str("day"));
        Assert.Equal(today, spike.GetProperty("day_cost_usd").GetDouble(), 6);
        Assert.Equal(small, spike.GetProperty("baseline_usd").GetDouble(), 9);
        Assert.Equal(JsonValueKind.Null, spike.GetProperty("budget_usd").ValueKind);
        Assert.False(string.IsNullOrEmpty(spike.Str("message")));

        // The webhook: the same three alerts, each signed over "<timestamp>.<body>" with the budget's secret.
        var delivered = new Dictionary<string, JsonElement>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(45));
        while (delivered.Count < 3)
        {
            var (body, timestamp, signature) = await _hooks.Reader.ReadAsync(cts.Token);
            var expected = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(timestamp + "." + body)));
            Assert.Equal(expected, signature);
            Assert.True(long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out _));
            using var doc = JsonDocument.Parse(body);
            delivered.Add(doc.RootElement.Str("id")!, doc.RootElement.Clone());
        }

        Assert.Equal(alerts.Values.Select(a => a.Str("id")).Order(), delivered.Keys.Order());
        Assert.Equal(4, Volatile.Read(ref _hookCalls));

        // More spend in the same month and day: no alert is repeated.
        using (var more = await OtlpReceiverTests.PostOtlpAsync(_server, key, OtlpReceiverTests.OtlpJson("support-chat",
            OtlpReceiverTests.Span(now.AddMinutes(-1), 100, ("gen_ai.request.model", OtlpReceiverTests.Str("big-4")), ("gen_ai.usage.input_tokens", OtlpReceiverTests.Int(1000)), ("gen_ai.usage.output_tokens", OtlpReceiverTests.Int(500))))))
        {
            Assert.Equal(HttpStatusCode.OK, more.StatusCode);
        }

        var (_, page) = await alice.GetAsync("/api/alerts");
        var listed = page.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(3, listed.Count);
        Assert.Equal(alerts.Values.Select(a => a.Str("id")).Order(), listed.Select(a => a.Str("id")).Order());
        var (_, bobAlerts) = await bob.GetAsync("/api/alerts");
        Assert.Empty(bobAlerts.GetProperty("items").EnumerateArray());

        var (deleted, _) = await alice.SendAsync(HttpMethod.Delete, $"/api/datasets/{datasetId}/budget");
        Assert.Equal(HttpStatusCode.NoContent, deleted);
        var (gone, _) = await alice.GetAsync($"/api/datasets/{datasetId}/budget");
        Assert.Equal(HttpStatusCode.NotFound, gone);
    }
}
