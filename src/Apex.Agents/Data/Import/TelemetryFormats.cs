namespace Apex.Agents.Data.Import;

/// <summary>
/// Langfuse observations export CSV (generations): <c>promptTokens</c>/<c>completionTokens</c>,
/// <c>calculatedTotalCost</c> in USD, <c>latency</c> in SECONDS, <c>level=ERROR</c> is a failure.
/// Observations that are not generations (spans, events) are left out silently.
/// </summary>
internal sealed class LangfuseFormat : IUsageFormat
{
    public string Id => "langfuse_generations";
    public string Name => "Langfuse generations export";

    public bool Recognises(IReadOnlySet<string> keys) => Keys.All(keys, "prompttokens", "completiontokens", "starttime");

    public bool TryRead(IUsageRecord r, ref ImportedRow row, out string? skip)
    {
        skip = null;
        var type = r.Get("type")?.Trim();
        if (!string.IsNullOrEmpty(type) && !type.Equals("GENERATION", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        if (!r.TryTime("startTime", out row.TimestampMs, out skip)
            || !r.TryCount("promptTokens", true, out row.InputTokens, out skip)
            || !r.TryCount("completionTokens", true, out row.OutputTokens, out skip)
            || !r.TryMoney("calculatedTotalCost", 1, out row.CostUsd, out skip)
            || !r.TryDuration("latency", 1000, out row.LatencyMs, out skip))
        {
            return false;
        }

        if (row.LatencyMs < 0 && UsageValues.TryParseTimestamp(r.Get("endTime"), out var end) && end >= row.TimestampMs && end - row.TimestampMs < int.MaxValue)
        {
            row.LatencyMs = (int)(end - row.TimestampMs);
        }

        row.Model = r.First("model", "providedModelName");
        row.Error = string.Equals(r.Get("level")?.Trim(), "ERROR", StringComparison.OrdinalIgnoreCase);
        row.Feature = r.First("name", "traceName");
        row.UserTier = r.First("userId");
        return true;
    }
}

/// <summary>
/// OpenTelemetry GenAI spans, from an OTLP JSON file (<c>resourceSpans/scopeSpans/spans</c>) or the live
/// OTLP receiver: the span's <c>gen_ai.*</c> attributes, its duration, status code 2 = error, the
/// resource's <c>service.name</c> (or another attribute) as the feature. Spans without GenAI usage
/// (HTTP, DB…) are left out silently.
/// </summary>
internal sealed class OtelGenAiFormat(string? featureAttribute = null, string? promptHashAttribute = null) : IUsageFormat
{
    public string Id => OtlpSpans.FormatId;
    public string Name => "OpenTelemetry GenAI spans (OTLP JSON)";

    public bool Recognises(IReadOnlySet<string> keys) => keys.Contains("resourcespans");

    public bool TryRead(IUsageRecord r, ref ImportedRow row, out string? skip)
    {
        skip = null;
        var input = r.First("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens");
        var output = r.First("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens");
        row.Model = r.First("gen_ai.response.model", "gen_ai.request.model");
        if (input is null && output is null && row.Model is null)
        {
            return false;
        }

        if (!r.TryTime(OtlpSpans.Start, out row.TimestampMs, out skip)
            || !r.TryCountOf(out row.InputTokens, out skip, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
            || !r.TryCountOf(out row.OutputTokens, out skip, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
            || !r.TryCountOf(out row.CacheReadTokens, out skip, "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens")
            || !r.TryCountOf(out row.CacheWriteTokens, out skip, "gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens"))
        {
            return false;
        }

        if (input is null || output is null)
        {
            skip = "the span has no gen_ai.usage input/output token counts";
            return false;
        }

        if (row.CacheReadTokens + row.CacheWriteTokens > row.InputTokens)
        {
            row.InputTokens += row.CacheReadTokens + row.CacheWriteTokens;
        }

        if (UsageValues.TryParseTimestamp(r.Get(OtlpSpans.End), out var end) && end >= row.TimestampMs && end - row.TimestampMs < int.MaxValue)
        {
            row.LatencyMs = (int)(end - row.TimestampMs);
        }

        var status = r.Get(OtlpSpans.Status)?.Trim();
        row.Error = status is "2" or "STATUS_CODE_ERROR" || r.Get("error.type") is not null;
        row.Feature = (featureAttribute is null ? null : r.First(featureAttribute)) ?? r.First("service.name", OtlpSpans.SpanName);
        if (promptHashAttribute is not null && r.First(promptHashAttribute) is { } hash)
        {
            row.PromptHash = UsageValues.Hash(hash);
        }

        return true;
    }
}

/// <summary>
/// The one mapping from an OTLP span to a usage row, shared by the OTLP JSON file import and the live
/// OTLP receiver: each container puts the span's attributes (the resource's first, the span's over
/// them) and its own fields under the names below into an <see cref="IUsageRecord"/>, and
/// <see cref="Reader"/> reads it.
/// </summary>
public static class OtlpSpans
{
    /// <summary>Names the span's own fields take next to its attributes (values as OTLP writes them: nanoseconds, status code).</summary>
    public const string Start = "otlp.start_ms", End = "otlp.end_ms", Status = "otlp.status_code", SpanName = "otlp.name";

    public const string FormatId = "otel_genai_spans";

    /// <summary>
    /// The span reader: <see cref="IUsageFormat.TryRead"/> is false with a null reason for a span that is
    /// no GenAI call (ignored), false with a reason for a GenAI span that cannot be used (rejected).
    /// <paramref name="featureAttribute"/> is read for the feature before <c>service.name</c>;
    /// <paramref name="promptHashAttribute"/> carries a prompt hash when set.
    /// </summary>
    public static IUsageFormat Reader(string? featureAttribute = null, string? promptHashAttribute = null) =>
        new OtelGenAiFormat(featureAttribute, promptHashAttribute);
}

/// <summary>
/// AWS Bedrock model invocation logs (JSON Lines, one <c>ModelInvocationLog</c> per line): <c>modelId</c>
/// as invoked (inference profiles like <c>us.anthropic.…-v2:0</c>), <c>input.inputTokenCount</c> (cache
/// tokens apart, as Anthropic counts them), <c>output.outputTokenCount</c>, <c>errorCode</c> = failure.
/// </summary>
internal sealed class BedrockFormat : IUsageFormat
{
    public string Id => "bedrock_invocation_logs";
    public string Name => "AWS Bedrock model invocation logs";

    public bool Recognises(IReadOnlySet<string> keys) => keys.Contains("modelid") && (keys.Contains("schematype") || Keys.All(keys, "input", "output"));

    public bool TryRead(IUsageRecord r, ref ImportedRow row, out string? skip)
    {
        if (!r.TryTime("timestamp", out row.TimestampMs, out skip)
            || !r.TryCount("input.inputTokenCount", false, out var input, out skip)
            || !r.TryCount("output.outputTokenCount", false, out row.OutputTokens, out skip)
            || !r.TryCountOf(out row.CacheReadTokens, out skip, "input.cacheReadInputTokenCount")
            || !r.TryCountOf(out row.CacheWriteTokens, out skip, "input.cacheWriteInputTokenCount")
            || !r.TryDuration("output.outputBodyJson.metrics.latencyMs", 1, out row.LatencyMs, out skip))
        {
            return false;
        }

        row.InputTokens = input + row.CacheReadTokens + row.CacheWriteTokens;
        row.Model = r.Get("modelId");
        row.Error = !string.IsNullOrWhiteSpace(r.Get("errorCode"));
        row.Feature = r.First("requestMetadata.feature", "requestMetadata.application", "operation");
        return true;
    }
}

/// <summary>
/// Azure OpenAI diagnostic logs (<c>RequestResponse</c>): model, duration and result per request but no
/// token counts, so no cost can be computed from them. Recognised to say which export to make instead.
/// </summary>
internal sealed class AzureDiagnosticsFormat : IUsageFormat
{
    public string Id => "azure_openai_diagnostics";
    public string Name => "Azure OpenAI diagnostic logs (RequestResponse)";

    public bool Recognises(IReadOnlySet<string> keys) => Keys.All(keys, "category", "operationname", "properties") && Keys.Any(keys, "resourceid", "durationms", "resultsignature");

    public bool TryRead(IUsageRecord r, ref ImportedRow row, out string? skip)
    {
        skip = "Azure diagnostic records have no token counts";
        return false;
    }

    public string? Refusal =>
        "Azure OpenAI diagnostic logs (RequestResponse) have no token counts, so Apex cannot compute cost from them. "
        + "Export token usage instead: in Azure Monitor → Metrics on the Azure OpenAI resource, chart 'Input Tokens' (ProcessedPromptTokens) and 'Output Tokens' (GeneratedTokens) "
        + "split by ModelName and ModelDeploymentName, and download it; or log calls through a gateway Apex reads (LiteLLM, Helicone, Portkey) or as OpenTelemetry GenAI spans.";
}
