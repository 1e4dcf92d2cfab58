using System.Text.Json;
using Apex.Agents.Analysis;
using Apex.Agents.Catalog;
using Apex.Agents.Data;
using Apex.Agents.Planning;
using Apex.Agents.Runtime;

namespace Apex.Agents.Tools;

/// <summary>One tool of docs/spec/agent-report.md section 3: a named computation with JSON arguments and a JSON result.</summary>
public interface IAgentTool
{
    string Name { get; }
    string Description { get; }

    /// <summary>The sub-agent that owns the tool (its events carry this agent_name).</summary>
    string Agent { get; }

    /// <summary>JSON schema of the arguments, for function calling.</summary>
    JsonElement ParametersSchema { get; }

    ValueTask<object> ExecuteAsync(RunContext context, JsonElement arguments, CancellationToken ct);
}

/// <summary>State of one run shared by its tools: the request, its facts, the dataset and the results so far.</summary>
public sealed class RunContext
{
    public required AgentRunRequest Request { get; init; }
    public required PriceCatalog Catalog { get; init; }
    public required AnalysisOptions Options { get; init; }
    public UsageDatasetInfo? Dataset { get; set; }
    public UsageAnalyzer? Analyzer { get; set; }
    public RequestFacts? Facts { get; set; }
    public List<string> Assumptions { get; } = [];

    // Results for a message without a dataset.
    public UsageSummary? FactsSummary { get; set; }
    public ModelsResult? FactsModels { get; set; }
    public PlannedRecommendation? FactsRecommendation { get; set; }

    public bool HasData => Analyzer is not null;

    /// <summary>The whole dataset (a filter follow-up analyses a subset of it).</summary>
    public UsageTable? Table { get; set; }

    /// <summary>The thread's last report, when it is about the same data.</summary>
    public Reports.OptimizationReport? LastReport { get; set; }

    /// <summary>The follow-up the planner recognised, if any; its references are the follow-up tools' defaults.</summary>
    public FollowUp? FollowUp { get; set; }

    /// <summary>What a filter follow-up kept.</summary>
    public AppliedFilter? Filter { get; set; }

    /// <summary>Results of the follow-up tools of this run, by kind, in call order.</summary>
    public List<(FollowUpKind Kind, object Result)> FollowUpResults { get; } = [];
}

internal static class ToolSchemas
{
    public static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement.Clone();

    public static readonly JsonElement Empty = Parse("""{"type":"object","properties":{},"additionalProperties":false}""");

    public static double? Number(JsonElement args, string name) =>
        args.ValueKind == JsonValueKind.Object && args.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    public static bool? Bool(JsonElement args, string name) =>
        args.ValueKind == JsonValueKind.Object && args.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;

    public static string? String(JsonElement args, string name) =>
        args.ValueKind == JsonValueKind.Object && args.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } text ? text.Trim() : null;

    /// <summary>A string array argument, or null when absent (a single string counts as a one-element array).</summary>
    public static List<string>? Strings(JsonElement args, string name)
    {
        if (args.ValueKind != JsonValueKind.Object || !args.TryGetProperty(name, out var v))
        {
            return null;
        }

        return v.ValueKind switch
        {
            JsonValueKind.Array => [.. v.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!.Trim()).Where(e => e.Length > 0)],
            JsonValueKind.String when v.GetString() is { Length: > 0 } one => [one.Trim()],
            _ => null,
        };
    }

    public static object NoData(string what) => new NoDataResult(false, $"No dataset is attached: {what} needs usage rows. Upload a usage export to measure it.");

    public sealed record NoDataResult(bool Available, string Reason);
}

internal sealed class ParseRequestTool : IAgentTool
{
    public string Name => "parse_request";
    public string Description => "Extracts the facts stated in the user's message: monthly spend, models, request volume, use case, latency figures and savings goal.";
    public string Agent => "triage";
    public JsonElement ParametersSchema => ToolSchemas.Empty;

    public ValueTask<object> ExecuteAsync(RunContext context, JsonElement arguments, CancellationToken ct)
    {
        var facts = RequestParser.Parse(context.Request.UserText, context.Catalog, context.Request.DatasetId is not null);
        context.Facts = facts;
        return ValueTask.FromResult<object>(facts);
    }
}

internal sealed class SummarizeUsageTool : IAgentTool
{
    public string Name => "summarize_usage";
    public string Description => "Per model and per feature: calls, input/output tokens, cost, p50/p95 latency, error rate; daily trend; monthly run-rate. Without a dataset: the spend stated in the message.";
    public string Agent => "cost_analyst";
    public JsonElement ParametersSchema => ToolSchemas.Empty;

    public ValueTask<object> ExecuteAsync(RunContext context, JsonElement arguments, CancellationToken ct)
    {
        if (context.Analyzer is { } analyzer)
        {
            return ValueTask.FromResult<object>(analyzer.Summarize(ct));
        }

        context.FactsSummary = FactsEstimator.Summarize(context.Facts ?? RequestParser.Parse(context.Request.UserText, context.Catalog, false), context.Catalog, context.Assumptions);
        return ValueTask.FromResult<object>(context.FactsSummary);
    }
}

internal sealed class FindRepeatedPromptsTool : IAgentTool
{
    private static readonly JsonElement Schema = ToolSchemas.Parse(
        """{"type":"object","properties":{"ttl_hours":{"type":"number","description":"Cache time-to-live in hours (default 24)."}},"additionalProperties":false}""");

    public string Name => "find_repeated_prompts";
    public string Description => "Exact repeats: calls whose (model, prompt_hash) was already seen earlier within the cache TTL; their count and cost.";
    public string Agent => "cost_analyst";
    public JsonElement ParametersSchema => Schema;

    public ValueTask<object> ExecuteAsync(RunContext context, JsonElement arguments, CancellationToken ct) =>
        ValueTask.FromResult(context.Analyzer is { } a ? (object)a.FindRepeats(ToolSchemas.Number(arguments, "ttl_hours"), ct) : ToolSchemas.NoData("finding repeats"));
}

internal sealed class FindWasteTool : IAgentTool
{
    public string Name => "find_waste";
    public string Description => "Cost of failed calls (status=error) and of output-token tails (p95 far above median) that a max_tokens cap would trim.";
    public string Agent => "cost_analyst";
    public JsonElement ParametersSchema => ToolSchemas.Empty;

    public ValueTask<object> ExecuteAsync(RunContext context, JsonElement arguments, CancellationToken ct) =>
        ValueTask.FromResult(context.Analyzer is { } a ? (object)a.FindWaste(ct) : ToolSchemas.NoData("finding waste"));
}

internal sealed class RecommendModelsTool : IAgentTool
{
    private static readonly JsonElement Schema = ToolSchemas.Parse(
        """{"type":"object","properties":{"allow_tier_drop":{"type":"boolean","description":"Also list models one quality tier smaller (default true)."}},"additionalProperties":false}""");

    public string Name => "recommend_models";
    public string Description => "For each (feature, model) group, cheaper catalog models of a sufficient quality tier and the cost of the same tokens at their prices.";
    public string Agent => "optimizer";
    public JsonElement ParametersSchema => Schema;

    public ValueTask<object> ExecuteAsync(RunContext context, JsonElement arguments, CancellationToken ct)
    {
        var allowDrop = ToolSchemas.Bool(arguments, "allow_tier_drop") ?? true;
        if (context.Analyzer is { } a)
        {
            return ValueTask.FromResult<object>(a.RecommendModels(allowDrop, ct));
        }

        var facts = context.Facts ?? RequestParser.Parse(context.Request.UserText, context.Catalog, false);
        context.FactsSummary ??= FactsEstimator.Summarize(facts, context.Catalog, context.Assumptions);
        var (result, recommendation) = FactsEstimator.RecommendModels(facts, context.FactsSummary, context.Catalog, allowDrop, context.Assumptions, context.Options.ReasoningOutputFactor);
        context.FactsModels = result;
        context.FactsRecommendation = recommendation;
        return ValueTask.FromResult<object>(result);
    }
}

internal sealed class EstimateBatchingTool : IAgentTool
{
    public string Name => "estimate_batching";
    public string Description => "Traffic that need not be interactive (interactive=false, or batch/report/nightly features) and the batch-API discount on it.";
    public string Agent => "optimizer";
    public JsonElement ParametersSchema => ToolSchemas.Empty;

    public ValueTask<object> ExecuteAsync(RunContext context, JsonElement arguments, CancellationToken ct) =>
        ValueTask.FromResult(context.Analyzer is { } a ? (object)a.EstimateBatching(ct) : ToolSchemas.NoData("estimating batching"));
}

internal sealed class EstimatePromptCachingTool : IAgentTool
{
    public string Name => "estimate_prompt_caching";
    public string Description => "Long repeated prefixes (input tokens >= 1,024 with few cached_input_tokens) and the cached-input discount.";
    public string Agent => "optimizer";
    public JsonElement ParametersSchema => ToolSchemas.Empty;

    public ValueTask<object> ExecuteAsync(RunContext context, JsonElement arguments, CancellationToken ct) =>
        ValueTask.FromResult(context.Analyzer is { } a ? (object)a.EstimatePromptCaching(ct) : ToolSchemas.NoData("estimating prompt caching"));
}

/// <summary>The tools by name.</summary>
public sealed class ToolSet
{
    public ToolSet()
    {
        All =
        [
            new ParseRequestTool(), new SummarizeUsageTool(), new FindRepeatedPromptsTool(), new FindWasteTool(),
            new RecommendModelsTool(), new EstimateBatchingTool(), new EstimatePromptCachingTool(),
            new FilterUsageTool(), new WhatIfTool(), new ExplainRecommendationTool(), new CostTrendTool(), new CompareModelsTool(), new LatencyTool(), new CostBreakdownTool(),
        ];
    }

    public IReadOnlyList<IAgentTool> All { get; }

    public IAgentTool this[string name] => All.First(t => t.Name == name);

    public IEnumerable<IAgentTool> OfAgent(string agent) => All.Where(t => t.Agent == agent);
}
