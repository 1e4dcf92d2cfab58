using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Apex.Agents.Runtime;

namespace Apex.Web.Tests;

/// <summary>
/// An agent that answers in the exact shapes of the conversation contract (a report with
/// <c>cost_analysis.daily</c> and <c>follow_ups</c>; a <c>cost_trend</c> follow-up ending with a
/// <c>result</c> and no report), so the browser suite checks how the app shows them independently of
/// the analysis that computes them. Its figures are fixed and known to the tests.
/// </summary>
internal sealed class ContractAgent : IAgentRuntime
{
    public const string TrendQuestion = "Show the daily cost trend for support-chat";
    public const string WhatIfQuestion = "What if we only did the caching change?";

    /// <summary>Seven days of spend by model and feature; feature splits leave part of each day unassigned.</summary>
    public static IReadOnlyList<(string Date, int Calls, decimal Gpt4o, decimal Mini, decimal Support, decimal Nightly)> Days { get; } =
    [
        ("2026-11-01", 34, 2.90m, 0.21m, 2.70m, 0.21m),
        ("2026-11-02", 35, 2.64m, 0.19m, 2.50m, 0.19m),
        ("2026-11-03", 34, 3.05m, 0.22m, 2.95m, 0.22m),
        ("2026-11-04", 35, 3.40m, 0.20m, 3.10m, 0.20m),
        ("2026-11-05", 34, 3.72m, 0.23m, 3.52m, 0.23m),
        ("2026-11-06", 34, 3.98m, 0.18m, 3.80m, 0.18m),
        ("2026-11-07", 34, 4.31m, 0.21m, 4.11m, 0.21m),
    ];

    public ConcurrentQueue<AgentRunRequest> Requests { get; } = new();

    public async IAsyncEnumerable<AgentEvent> RunAsync(AgentRunRequest request, [EnumeratorCancellation] CancellationToken ct)
    {
        Requests.Enqueue(request);
        await Task.Yield();
        yield return AgentEvent.Started(AgentEvent.TopAgent, "Looking at your request.");
        var callId = "call_" + request.RunId;
        yield return AgentEvent.ToolExecuting(AgentEvent.TopAgent, callId, "summarize_usage", new { dataset_id = request.DatasetId });
        yield return AgentEvent.ToolCompleted(AgentEvent.TopAgent, callId, "summarize_usage", new { days = Days.Count }, 2, ok: true);
        var trend = request.UserText.Contains("trend", StringComparison.OrdinalIgnoreCase);
        var answer = trend
            ? "support-chat cost rose from $2.70 on 2026-11-01 to $4.11 on 2026-11-07."
            : "You spend about $103/month; caching exact repeats saves about $12.";
        yield return AgentEvent.MessageDelta(AgentEvent.TopAgent, "msg_" + request.RunId, answer);
        if (trend)
        {
            var result = Json(new JsonObject
            {
                ["intent"] = "follow_up",
                ["kind"] = "cost_trend",
                ["dataset_id"] = request.DatasetId,
                ["follow_ups"] = new JsonArray(WhatIfQuestion),
                ["trend"] = new JsonObject
                {
                    ["granularity"] = "day",
                    ["scope"] = "feature",
                    ["name"] = "support-chat",
                    ["points"] = new JsonArray([.. Days.Select(d => Point(d.Date, d.Calls, d.Support, new() { ["gpt-4o"] = d.Support }, new() { ["support-chat"] = d.Support }))]),
                },
            });
            yield return AgentEvent.Completed(AgentEvent.TopAgent, "completed", result, 5, final: true);
            yield break;
        }

        var report = Json(new JsonObject
        {
            ["summary"] = answer,
            ["estimate"] = false,
            ["cost_analysis"] = new JsonObject
            {
                ["period_days"] = Days.Count,
                ["monthly_cost_usd"] = 103.4,
                ["calls"] = Days.Sum(d => d.Calls),
                ["by_model"] = new JsonArray(new JsonObject { ["model"] = "gpt-4o", ["monthly_cost_usd"] = 96.9, ["share"] = 0.94 }),
                ["by_feature"] = new JsonArray(new JsonObject { ["feature"] = "support-chat", ["monthly_cost_usd"] = 91.2, ["share"] = 0.88 }),
                ["daily"] = new JsonArray([.. Days.Select(d => Point(d.Date, d.Calls, d.Gpt4o + d.Mini,
                    new() { ["gpt-4o"] = d.Gpt4o, ["gpt-4o-mini"] = d.Mini },
                    new() { ["support-chat"] = d.Support, ["nightly-report"] = d.Nightly }))]),
            },
            ["recommendations"] = new JsonArray(new JsonObject
            {
                ["id"] = "cache",
                ["title"] = "Cache exact repeats",
                ["monthly_savings_usd"] = 12,
                ["effort"] = "low",
                ["risk"] = "low",
                ["confidence"] = "high",
            }),
            ["potential_savings"] = new JsonObject { ["monthly_amount"] = 12, ["annual_amount"] = 144, ["percent"] = 11.6 },
            ["action_plan"] = new JsonArray(new JsonObject { ["order"] = 1, ["recommendation_id"] = "cache", ["week"] = 1 }),
            ["follow_ups"] = new JsonArray(WhatIfQuestion, TrendQuestion),
        });
        yield return AgentEvent.Completed(AgentEvent.TopAgent, "completed", new { answer }, 5, final: true, report: report);
    }

    public static decimal DayTotal(int i) => Days[i].Gpt4o + Days[i].Mini;

    private static JsonObject Point(string date, int calls, decimal cost, Dictionary<string, decimal> byModel, Dictionary<string, decimal> byFeature)
    {
        var models = new JsonObject();
        foreach (var (k, v) in byModel)
        {
            models[k] = v;
        }

        var features = new JsonObject();
        foreach (var (k, v) in byFeature)
        {
            features[k] = v;
        }

        return new JsonObject
        {
            ["date"] = date,
            ["calls"] = calls,
            ["cost_usd"] = cost,
            ["by_model"] = models,
            ["by_feature"] = features,
        };
    }

    private static JsonElement Json(JsonNode node) => JsonDocument.Parse(node.ToJsonString()).RootElement.Clone();

    /// <summary>Dollars the way the app writes amounts under $100.</summary>
    public static string Usd(decimal amount) => "$" + amount.ToString("0.00", CultureInfo.InvariantCulture);
}
