using System.Globalization;
using System.Text.Json;
using Apex.Agents.Analysis;
using Apex.Agents.Planning;

namespace Apex.Agents.Tools;

// The follow-up tools of docs/spec/agent-report.md section 8. Arguments a model leaves out default to
// what the built-in planner resolved from the question (Context.FollowUp), so both reach the same result.

/// <summary>The follow-up tools' names, offered together to a model for a follow-up question.</summary>
public static class FollowUpTools
{
    public static readonly string[] Names = ["what_if", "explain_recommendation", "cost_trend", "compare_models", "latency", "cost_breakdown"];

    internal static UsageAnalyzer Analyzer(RunContext context) =>
        context.Analyzer ?? throw new InvalidOperationException("No dataset is attached: this follow-up needs usage rows. Upload a usage export first.");

    internal static object Record(RunContext context, FollowUpKind kind, object result)
    {
        lock (context.FollowUpResults)
        {
            context.FollowUpResults.Add((kind, result));
        }

        return result;
    }

    internal static string? Date(JsonElement args, string name)
    {
        var value = ToolSchemas.String(args, name);
        if (value is null)
        {
            return null;
        }

        return DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _)
            ? value
            : throw new ArgumentException($"{name} must be a date as yyyy-MM-dd, not '{value}'.");
    }
}

internal sealed class FilterUsageTool : IAgentTool
{
    private static readonly JsonElement Schema = ToolSchemas.Parse("""
        {"type":"object","properties":{
          "exclude_features":{"type":"array","items":{"type":"string"}},"only_features":{"type":"array","items":{"type":"string"}},
          "exclude_models":{"type":"array","items":{"type":"string"}},"only_models":{"type":"array","items":{"type":"string"}},
          "from":{"type":"string","description":"First day kept, yyyy-MM-dd."},"to":{"type":"string","description":"Last day kept, yyyy-MM-dd."}},
         "additionalProperties":false}
        """);

    public string Name => "filter_usage";
    public string Description => "Keeps only some rows of the dataset (exclude or keep only features or models, a date range); the analysis tools then run on them.";
    public string Agent => "cost_analyst";
    public JsonElement ParametersSchema => Schema;

    public ValueTask<object> ExecuteAsync(RunContext context, JsonElement arguments, CancellationToken ct)
    {
        var table = context.Table ?? throw new InvalidOperationException("No dataset is attached: filtering needs usage rows.");
        var parsed = context.FollowUp?.Filter ?? new RowFilter();
        var filter = new RowFilter
        {
            ExcludeFeatures = ToolSchemas.Strings(arguments, "exclude_features") ?? parsed.ExcludeFeatures,
            OnlyFeatures = ToolSchemas.Strings(arguments, "only_features") ?? parsed.OnlyFeatures,
            ExcludeModels = ToolSchemas.Strings(arguments, "exclude_models") ?? parsed.ExcludeModels,
            OnlyModels = ToolSchemas.Strings(arguments, "only_models") ?? parsed.OnlyModels,
            From = FollowUpTools.Date(arguments, "from") ?? parsed.From,
            To = FollowUpTools.Date(arguments, "to") ?? parsed.To,
        };
        var (kept, applied) = filter.Apply(table, context.Catalog, ct);
        if (kept.Count == 0)
        {
            throw new ArgumentException($"No rows are left {filter.Describe()}.");
        }

        context.Filter = applied;
        context.Analyzer = new UsageAnalyzer(kept, context.Catalog, context.Options);
        return ValueTask.FromResult<object>(applied);
    }
}

internal sealed class WhatIfTool : IAgentTool
{
    private static readonly JsonElement Schema = ToolSchemas.Parse("""
        {"type":"object","properties":{"recommendation_ids":{"type":"array","items":{"type":"string"},
          "description":"Ids of the last report's recommendations to apply alone, e.g. cache-exact-repeats."}},"additionalProperties":false}
        """);

    public string Name => "what_if";
    public string Description => "The savings of only the chosen recommendations, applied in plan order on the same data, each on what the previous left.";
    public string Agent => "optimizer";
    public JsonElement ParametersSchema => Schema;

    public ValueTask<object> ExecuteAsync(RunContext context, JsonElement arguments, CancellationToken ct)
    {
        var ids = ToolSchemas.Strings(arguments, "recommendation_ids") is { Count: > 0 } given ? given : context.FollowUp?.RecommendationIds ?? [];
        if (ids.Count == 0 && context.FollowUp?.AbsentChange is { } absent)
        {
            return ValueTask.FromResult(FollowUpTools.Record(context, FollowUpKind.WhatIf, FollowUps.NotInPlan(FollowUpTools.Analyzer(context), absent, ct)));
        }

        if (ids.Count == 0)
        {
            throw new ArgumentException("Name the recommendations to apply (recommendation_ids).");
        }

        var result = FollowUps.WhatIf(FollowUpTools.Analyzer(context), ids, ct);
        if (result.Chosen.Count == 0)
        {
            throw new ArgumentException($"None of {string.Join(", ", ids)} is a recommendation for this data.");
        }

        return ValueTask.FromResult(FollowUpTools.Record(context, FollowUpKind.WhatIf, result));
    }
}

internal sealed class ExplainRecommendationTool : IAgentTool
{
    private static readonly JsonElement Schema = ToolSchemas.Parse("""
        {"type":"object","properties":{"recommendation_id":{"type":"string","description":"Id of one of the last report's recommendations."}},"additionalProperties":false}
        """);

    public string Name => "explain_recommendation";
    public string Description => "The evidence behind one recommendation: calls, tokens, prices, quality tier, reasoning notes and assumptions.";
    public string Agent => "optimizer";
    public JsonElement ParametersSchema => Schema;

    public ValueTask<object> ExecuteAsync(RunContext context, JsonElement arguments, CancellationToken ct)
    {
        var id = ToolSchemas.String(arguments, "recommendation_id") ?? (context.FollowUp is { RecommendationIds: [var first, ..] } ? first : null);
        if (id is null && context.FollowUp?.AbsentChange is { } absent)
        {
            return ValueTask.FromResult(FollowUpTools.Record(context, FollowUpKind.ExplainRecommendation, FollowUps.NotInPlan(FollowUpTools.Analyzer(context), absent, ct)));
        }

        id = id ?? throw new ArgumentException("Name the recommendation to explain (recommendation_id).");
        var result = FollowUps.Explain(FollowUpTools.Analyzer(context), context.Catalog, id, ct);
        return ValueTask.FromResult(FollowUpTools.Record(context, FollowUpKind.ExplainRecommendation, result));
    }
}

internal sealed class CostTrendTool : IAgentTool
{
    private static readonly JsonElement Schema = ToolSchemas.Parse("""
        {"type":"object","properties":{
          "granularity":{"type":"string","enum":["day","hour"]},"feature":{"type":"string"},"model":{"type":"string"},
          "from":{"type":"string","description":"First day, yyyy-MM-dd."},"to":{"type":"string","description":"Last day, yyyy-MM-dd."}},
         "additionalProperties":false}
        """);

    public string Name => "cost_trend";
    public string Description => "A daily or hourly cost series (calls, cost, cost by model and by feature) for all traffic, one feature or one model, within a date range.";
    public string Agent => "cost_analyst";
    public JsonElement ParametersSchema => Schema;

    public ValueTask<object> ExecuteAsync(RunContext context, JsonElement arguments, CancellationToken ct)
    {
        var a = FollowUpTools.Analyzer(context);
        var parsed = context.FollowUp;
        var granularity = ToolSchemas.String(arguments, "granularity") ?? parsed?.Granularity ?? "day";
        if (granularity is not ("day" or "hour"))
        {
            throw new ArgumentException("granularity must be day or hour.");
        }

        var hasArgs = arguments.ValueKind == JsonValueKind.Object && (arguments.TryGetProperty("feature", out _) || arguments.TryGetProperty("model", out _));
        var feature = hasArgs ? ToolSchemas.String(arguments, "feature") : parsed?.Feature;
        var model = hasArgs ? ToolSchemas.String(arguments, "model") : parsed?.Model;
        var result = CostTrend.Trend(a.Table, context.Catalog, granularity == "hour", feature, feature is null ? model : null,
            FollowUpTools.Date(arguments, "from") ?? parsed?.From, FollowUpTools.Date(arguments, "to") ?? parsed?.To, ct);
        if (!hasArgs && parsed?.UnmatchedName is { } unmatched)
        {
            result = result with { UnmatchedName = unmatched, KnownFeatures = parsed.KnownFeatures };
        }

        return ValueTask.FromResult(FollowUpTools.Record(context, FollowUpKind.CostTrend, result));
    }
}

internal sealed class CompareModelsTool : IAgentTool
{
    private static readonly JsonElement Schema = ToolSchemas.Parse("""
        {"type":"object","properties":{
          "models":{"type":"array","items":{"type":"string"},"description":"Catalog models to price the calls at."},
          "feature":{"type":"string","description":"Only this feature's calls (default all)."},"current_model":{"type":"string","description":"Only calls of this model (default all)."}},
         "additionalProperties":false}
        """);

    public string Name => "compare_models";
    public string Description => "A group's calls and tokens priced at two or more catalog models, with quality tier and reasoning notes.";
    public string Agent => "optimizer";
    public JsonElement ParametersSchema => Schema;

    public ValueTask<object> ExecuteAsync(RunContext context, JsonElement arguments, CancellationToken ct)
    {
        var a = FollowUpTools.Analyzer(context);
        var names = ToolSchemas.Strings(arguments, "models") is { Count: > 0 } given ? given : context.FollowUp?.Models.ToList() ?? [];
        var unknown = names.Where(n => context.Catalog.Find(n) is null).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException($"Not in the price catalog: {string.Join(", ", unknown)}.");
        }

        var targets = names.Select(n => context.Catalog.Find(n)!).Distinct().ToList();
        var feature = ToolSchemas.String(arguments, "feature") ?? (arguments.ValueKind == JsonValueKind.Object && arguments.TryGetProperty("feature", out _) ? null : context.FollowUp?.Feature);
        var result = FollowUps.Compare(a, context.Catalog, feature, ToolSchemas.String(arguments, "current_model"), targets, ct);
        return ValueTask.FromResult(FollowUpTools.Record(context, FollowUpKind.CompareModels, result));
    }
}

internal sealed class LatencyTool : IAgentTool
{
    public string Name => "latency";
    public string Description => "Latency by model and feature from successful calls, failed calls apart, output-length tails, and what to change.";
    public string Agent => "cost_analyst";
    public JsonElement ParametersSchema => ToolSchemas.Empty;

    public ValueTask<object> ExecuteAsync(RunContext context, JsonElement arguments, CancellationToken ct) =>
        ValueTask.FromResult(FollowUpTools.Record(context, FollowUpKind.Latency, FollowUps.Latency(FollowUpTools.Analyzer(context), ct)));
}

internal sealed class CostBreakdownTool : IAgentTool
{
    private static readonly JsonElement Schema = ToolSchemas.Parse("""
        {"type":"object","properties":{
          "feature":{"type":"string","description":"Only this feature's calls (default all)."},"model":{"type":"string","description":"Only this model's calls (default all)."},
          "from":{"type":"string","description":"First day, yyyy-MM-dd."},"to":{"type":"string","description":"Last day, yyyy-MM-dd."}},
         "additionalProperties":false}
        """);

    public string Name => "cost_breakdown";
    public string Description => "The spend of all traffic, one feature or one model within a date range: calls, cost in the period and per month, its share of all traffic, and the split by model and by feature.";
    public string Agent => "cost_analyst";
    public JsonElement ParametersSchema => Schema;

    public ValueTask<object> ExecuteAsync(RunContext context, JsonElement arguments, CancellationToken ct)
    {
        var parsed = context.FollowUp;
        var hasArgs = arguments.ValueKind == JsonValueKind.Object && (arguments.TryGetProperty("feature", out _) || arguments.TryGetProperty("model", out _));
        var result = CostBreakdown.Compute(FollowUpTools.Analyzer(context), context.Catalog, context.Options,
            hasArgs ? ToolSchemas.String(arguments, "feature") : parsed?.Feature, hasArgs ? ToolSchemas.String(arguments, "model") : parsed?.Model,
            FollowUpTools.Date(arguments, "from") ?? parsed?.From, FollowUpTools.Date(arguments, "to") ?? parsed?.To, hasArgs ? null : parsed?.Ranking, ct);
        if (!hasArgs && parsed?.UnmatchedName is { } unmatched)
        {
            result = result with { UnmatchedName = unmatched, KnownFeatures = parsed.KnownFeatures };
        }

        return ValueTask.FromResult(FollowUpTools.Record(context, FollowUpKind.CostBreakdown, result));
    }
}
