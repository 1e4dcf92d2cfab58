using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Apex.Agents.Data;
using Apex.Chat.Datasets;
using Apex.Contracts;
using Apex.Realtime.Broker;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Apex.Chat.Live;

/// <summary>The alert object of docs/spec/rest-api.md ("Budgets and alerts"): the <c>usage_alert</c> payload, the webhook body, an item of GET /api/alerts.</summary>
public sealed record UsageAlert
{
    public const string BudgetProjected = "budget_projected";
    public const string FeatureBudgetProjected = "feature_budget_projected";
    public const string DailySpike = "daily_spike";

    public required string Id { get; init; }
    public required string DatasetId { get; init; }
    public required string DatasetName { get; init; }
    public required string Kind { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Feature { get; init; }
    public required string Month { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public double? BudgetUsd { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public double? ProjectedUsd { get; init; }

    /// <summary>The month's spend so far (of the feature, for a feature alert).</summary>
    public required double SpentUsd { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Day { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public double? DayCostUsd { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public double? BaselineUsd { get; init; }
    public required string Message { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
}

/// <summary>
/// Checks a live dataset's budget after each stored batch, from the daily cost table: the month's spend
/// projected to its end (spend so far / days elapsed, today included, x days in the month) against the
/// monthly budget and each feature's, and each day of the batch against the mean of its 7 previous days
/// that had spend (a spike when above <c>spike_factor</c> times that mean). Each alert is stored once
/// per (dataset, kind, feature, month or day), published to the owner's stream as <c>usage_alert</c> and
/// handed to the webhook worker; a failure here is logged and never fails the export.
/// </summary>
internal sealed partial class BudgetEvaluator(IServiceScopeFactory scopes, IServiceProvider services, TimeProvider time, WebhookWorker webhooks, ILogger<BudgetEvaluator> logger)
{
    private const long DayMs = 86_400_000;
    private const int BaselineDays = 7;

    public async Task EvaluateAsync(IngestCaller caller, UsageColumns batch, CancellationToken ct)
    {
        try
        {
            await EvaluateCoreAsync(caller, batch, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException && e is not OutOfMemoryException)
        {
            LogEvaluationFailed(logger, e, caller.DatasetId);
        }
    }

    private async Task EvaluateCoreAsync(IngestCaller caller, UsageColumns batch, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DatasetsDbContext>();
        var budget = await db.Budgets.AsNoTracking().FirstOrDefaultAsync(b => b.DatasetId == caller.DatasetId && b.UserId == caller.UserId, ct);
        if (budget is null)
        {
            return;
        }

        var now = time.GetUtcNow();
        var today = now.ToUnixTimeMilliseconds() / DayMs;
        var monthStart = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero);
        var monthStartDay = monthStart.ToUnixTimeMilliseconds() / DayMs;
        var daysInMonth = DateTime.DaysInMonth(now.Year, now.Month);
        var elapsed = today - monthStartDay + 1;
        var month = now.ToString("yyyy-MM", CultureInfo.InvariantCulture);
        var batchDays = new HashSet<long>();
        for (var i = 0; i < batch.Count; i++)
        {
            var day = batch.Timestamp[i] / DayMs;
            if (day <= today && day > today - BaselineDays)
            {
                batchDays.Add(day);
            }
        }

        var from = Math.Min(monthStartDay, batchDays.Count == 0 ? today : batchDays.Min() - BaselineDays);
        var daily = await db.LiveDailyCosts.AsNoTracking().Where(x => x.DatasetId == caller.DatasetId && x.Day >= from && x.Day <= today)
            .Select(x => new { x.Day, x.Feature, x.CostUsd }).ToListAsync(ct);
        var monthRows = daily.Where(x => x.Day >= monthStartDay).ToList();
        var spent = monthRows.Sum(x => x.CostUsd);
        var alerts = new List<(string Kind, string Feature, string Period, UsageAlert Alert)>();
        var projected = spent / elapsed * daysInMonth;
        if (budget.MonthlyUsd > 0 && projected > budget.MonthlyUsd)
        {
            alerts.Add((UsageAlert.BudgetProjected, "", month, New(caller, UsageAlert.BudgetProjected, null, month, now) with
            {
                BudgetUsd = budget.MonthlyUsd,
                ProjectedUsd = Round(projected),
                SpentUsd = Round(spent),
                Message = Invariant($"{caller.DatasetName}: this month's spend is on course for ${projected:N2}, over its ${budget.MonthlyUsd:N2} budget (${spent:N2} spent in {elapsed} of {daysInMonth} days)."),
            }));
        }

        var features = JsonSerializer.Deserialize<Dictionary<string, double>>(budget.FeaturesJson) ?? [];
        foreach (var (feature, limit) in features)
        {
            var featureSpent = monthRows.Where(x => x.Feature == feature).Sum(x => x.CostUsd);
            var featureProjected = featureSpent / elapsed * daysInMonth;
            if (limit > 0 && featureProjected > limit)
            {
                alerts.Add((UsageAlert.FeatureBudgetProjected, feature, month, New(caller, UsageAlert.FeatureBudgetProjected, feature, month, now) with
                {
                    BudgetUsd = limit,
                    ProjectedUsd = Round(featureProjected),
                    SpentUsd = Round(featureSpent),
                    Message = Invariant($"{caller.DatasetName}: {feature} is on course for ${featureProjected:N2} this month, over its ${limit:N2} budget (${featureSpent:N2} spent so far)."),
                }));
            }
        }

        var byDay = daily.GroupBy(x => x.Day).ToDictionary(g => g.Key, g => g.Sum(x => x.CostUsd));
        foreach (var day in batchDays.Order())
        {
            var dayCost = byDay.GetValueOrDefault(day);
            var previous = Enumerable.Range(1, BaselineDays).Select(k => byDay.GetValueOrDefault(day - k)).Where(c => c > 0).ToList();
            if (previous.Count == 0)
            {
                continue;
            }

            var baseline = previous.Average();
            if (dayCost > budget.SpikeFactor * baseline)
            {
                var dayText = DateTimeOffset.FromUnixTimeMilliseconds(day * DayMs).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
                alerts.Add((UsageAlert.DailySpike, "", dayText, New(caller, UsageAlert.DailySpike, null, month, now) with
                {
                    SpentUsd = Round(spent),
                    Day = dayText,
                    DayCostUsd = Round(dayCost),
                    BaselineUsd = Round(baseline),
                    Message = Invariant($"{caller.DatasetName}: spend on {dayText} is ${dayCost:N2}, {dayCost / baseline:0.#}x the ${baseline:N2} a day of its recent days."),
                }));
            }
        }

        foreach (var (kind, feature, period, alert) in alerts)
        {
            if (await db.Alerts.AsNoTracking().AnyAsync(a => a.DatasetId == caller.DatasetId && a.Kind == kind && a.Feature == feature && a.Period == period, ct))
            {
                continue;
            }

            var json = JsonSerializer.Serialize(alert, ApexJson.Options);
            db.Alerts.Add(new UsageAlertRow
            {
                Id = alert.Id,
                UserId = caller.UserId,
                DatasetId = caller.DatasetId,
                Kind = kind,
                Feature = feature,
                Period = period,
                Json = json,
                CreatedAtMs = now.ToUnixTimeMilliseconds(),
            });
            try
            {
                await db.SaveChangesAsync(ct);
            }
            catch (DbUpdateException)
            {
                // Another batch (or node) stored the same alert first: it is sent once, by that writer.
                db.ChangeTracker.Clear();
                continue;
            }

            LogAlert(logger, alert.Id, caller.DatasetId, kind);
            await PublishAsync(caller.UserId, alert, now);
            if (budget.WebhookUrl is { } url && budget.WebhookSecret is { } secret)
            {
                webhooks.Enqueue(new WebhookDelivery(alert.Id, url, secret, json));
            }
        }
    }

    private async Task PublishAsync(string userId, UsageAlert alert, DateTimeOffset now)
    {
        var envelope = new EventEnvelope
        {
            Type = LiveEvents.UsageAlert,
            AgentName = "apex",
            Timestamp = now,
            Payload = ApexJson.ToElement(new AlertPayload(alert)),
        };
        try
        {
            // The alert is stored already (GET /api/alerts has it); a broker failure must not fail the export.
            await services.GetRequiredService<IEventBroker>().PublishAsync(userId, envelope, CancellationToken.None);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogPublishFailed(logger, e, alert.Id);
        }
    }

    private static UsageAlert New(IngestCaller caller, string kind, string? feature, string month, DateTimeOffset now) => new()
    {
        Id = ApexIds.New("alr"),
        DatasetId = caller.DatasetId,
        DatasetName = caller.DatasetName,
        Kind = kind,
        Feature = feature,
        Month = month,
        SpentUsd = 0,
        Message = string.Empty,
        CreatedAt = now,
    };

    private static double Round(double usd) => Math.Round(usd, 6, MidpointRounding.AwayFromZero);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private sealed record AlertPayload(UsageAlert Alert);

    [LoggerMessage(EventId = 4411, Level = LogLevel.Information, Message = "Alert {AlertId} on live dataset {DatasetId}: {Kind}")]
    private static partial void LogAlert(ILogger logger, string alertId, string datasetId, string kind);

    [LoggerMessage(EventId = 4412, Level = LogLevel.Warning, Message = "Budget check of live dataset {DatasetId} failed; the export was stored")]
    private static partial void LogEvaluationFailed(ILogger logger, Exception exception, string datasetId);

    [LoggerMessage(EventId = 4413, Level = LogLevel.Warning, Message = "Alert {AlertId} could not be published on the owner's stream")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, string alertId);
}

/// <summary>Event types of live usage on a user's stream (docs/spec/realtime-protocol.md).</summary>
public static class LiveEvents
{
    public const string UsageAlert = "usage_alert";
}
