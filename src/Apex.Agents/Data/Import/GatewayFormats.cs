using System.Text.Json;

namespace Apex.Agents.Data.Import;

/// <summary>
/// LiteLLM proxy spend logs: the <c>LiteLLM_SpendLogs</c> table dumped as CSV, or <c>GET /spend/logs</c>
/// (a JSON array). One call per row; <c>spend</c> in USD; latency = endTime − startTime;
/// <c>status=failure</c> is a failed call; cache tokens live in the JSON <c>metadata</c> (often a string).
/// </summary>
internal sealed class LiteLlmFormat : IUsageFormat
{
    public string Id => "litellm_spend_logs";
    public string Name => "LiteLLM spend logs";

    public bool Recognises(IReadOnlySet<string> keys) => Keys.All(keys, "spend", "prompt_tokens", "completion_tokens", "starttime");

    public bool TryRead(IUsageRecord r, ref ImportedRow row, out string? skip)
    {
        if (!r.TryTime("startTime", out row.TimestampMs, out skip)
            || !r.TryCount("prompt_tokens", true, out row.InputTokens, out skip)
            || !r.TryCount("completion_tokens", true, out row.OutputTokens, out skip)
            || !r.TryMoney("spend", 1, out row.CostUsd, out skip)
            || !r.TryCountOf(out row.CacheReadTokens, out skip, "metadata.usage_object.prompt_tokens_details.cached_tokens", "metadata.usage_object.cache_read_input_tokens")
            || !r.TryCountOf(out row.CacheWriteTokens, out skip, "metadata.usage_object.cache_creation_input_tokens"))
        {
            return false;
        }

        // Anthropic-style usage counts cache tokens apart from the prompt.
        if (row.CacheReadTokens + row.CacheWriteTokens > row.InputTokens)
        {
            row.InputTokens += row.CacheReadTokens + row.CacheWriteTokens;
        }

        row.Model = r.First("model", "model_group");
        if (UsageValues.TryParseTimestamp(r.Get("endTime"), out var end) && end >= row.TimestampMs && end - row.TimestampMs < int.MaxValue)
        {
            row.LatencyMs = (int)(end - row.TimestampMs);
        }

        row.Error = string.Equals(r.Get("status")?.Trim(), "failure", StringComparison.OrdinalIgnoreCase);
        row.Feature = FirstTag(r.Get("request_tags")) ?? r.First("metadata.user_api_key_team_alias", "team_id", "metadata.user_api_key_alias");
        row.UserTier = r.First("end_user", "user");
        var messages = r.Get("messages")?.Trim();
        if (messages is { Length: > 4 })
        {
            row.PromptHash = UsageValues.Hash(messages);
        }

        return true;
    }

    /// <summary>The first tag of a JSON array held as text (<c>["faq-bot","prod"]</c>), or a bare tag.</summary>
    internal static string? FirstTag(string? tags)
    {
        tags = tags?.Trim();
        if (string.IsNullOrEmpty(tags) || tags is "[]" or "null")
        {
            return null;
        }

        if (tags[0] != '[')
        {
            return tags;
        }

        try
        {
            using var doc = JsonDocument.Parse(tags);
            foreach (var t in doc.RootElement.EnumerateArray())
            {
                if (t.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(t.GetString()))
                {
                    return t.GetString();
                }
            }
        }
        catch (JsonException)
        {
        }

        return null;
    }
}

/// <summary>
/// Helicone request export (JSON Lines by default, or CSV), one <c>HeliconeRequest</c> per record:
/// <c>response_status</c> ≥ 400 is a failure, <c>delay_ms</c> the latency, <c>cost</c> in USD.
/// </summary>
internal sealed class HeliconeFormat : IUsageFormat
{
    public string Id => "helicone_requests";
    public string Name => "Helicone request export";

    public bool Recognises(IReadOnlySet<string> keys) =>
        Keys.All(keys, "request_created_at", "response_status") && Keys.Any(keys, "prompt_tokens", "completion_tokens");

    public bool TryRead(IUsageRecord r, ref ImportedRow row, out string? skip)
    {
        if (!r.TryTime("request_created_at", out row.TimestampMs, out skip)
            || !r.TryCount("prompt_tokens", true, out row.InputTokens, out skip)
            || !r.TryCount("completion_tokens", true, out row.OutputTokens, out skip)
            || !r.TryCount("prompt_cache_read_tokens", false, out row.CacheReadTokens, out skip)
            || !r.TryCount("prompt_cache_write_tokens", false, out row.CacheWriteTokens, out skip)
            || !r.TryDuration("delay_ms", 1, out row.LatencyMs, out skip))
        {
            return false;
        }

        var costField = r.Get("cost") is not null ? "cost" : r.Get("cost_usd") is not null ? "cost_usd" : "costUSD";
        if (!r.TryMoney(costField, 1, out row.CostUsd, out skip))
        {
            return false;
        }

        if (row.CacheReadTokens + row.CacheWriteTokens > row.InputTokens)
        {
            row.InputTokens += row.CacheReadTokens + row.CacheWriteTokens;
        }

        row.Model = r.First("model", "request_model", "response_model");
        row.Error = UsageValues.TryParseCount(r.Get("response_status"), true, out var status, out _) && status >= 400;
        row.Feature = r.First("request_properties.feature", "request_properties.Helicone-Property-Feature", "request_path");
        row.UserTier = r.First("request_user_id");
        return true;
    }
}

/// <summary>Portkey logs export (JSON Lines): <c>ai_model</c>, <c>req_units</c>/<c>res_units</c>, <c>cost</c> in cents, <c>response_time</c> in ms.</summary>
internal sealed class PortkeyFormat : IUsageFormat
{
    public string Id => "portkey_logs";
    public string Name => "Portkey logs export";

    public bool Recognises(IReadOnlySet<string> keys) => Keys.All(keys, "ai_model", "req_units", "res_units");

    public bool TryRead(IUsageRecord r, ref ImportedRow row, out string? skip)
    {
        if (!r.TryTime("created_at", out row.TimestampMs, out skip)
            || !r.TryCount("req_units", true, out row.InputTokens, out skip)
            || !r.TryCount("res_units", true, out row.OutputTokens, out skip)
            || !r.TryDuration("response_time", 1, out row.LatencyMs, out skip))
        {
            return false;
        }

        // Portkey's cost field is in cents (cost_currency names the currency the cents are of).
        const double divisor = 100;
        if (!r.TryMoney("cost", divisor, out row.CostUsd, out skip))
        {
            return false;
        }

        row.Model = r.Get("ai_model");
        var success = r.Get("is_success");
        row.Error = (UsageValues.TryParseCount(r.Get("response_status_code"), true, out var status, out _) && status >= 400)
            || (success is not null && !UsageValues.IsTrue(success));
        row.Feature = r.First("metadata.feature", "metadata._feature", "prompt_slug", "metadata.app");
        row.UserTier = r.First("metadata._user", "metadata.user");
        return true;
    }
}

/// <summary>
/// OpenRouter activity export CSV: one generation per row; <c>cost_total</c> in USD,
/// <c>generation_time_ms</c>, <c>cancelled=true</c> is a failed call, the model as <c>model_permaslug</c>.
/// </summary>
internal sealed class OpenRouterFormat : IUsageFormat
{
    public string Id => "openrouter_activity";
    public string Name => "OpenRouter activity export";

    public bool Recognises(IReadOnlySet<string> keys) => Keys.All(keys, "tokens_prompt", "tokens_completion") && Keys.Any(keys, "model_permaslug", "cost_total");

    public bool TryRead(IUsageRecord r, ref ImportedRow row, out string? skip)
    {
        if (!r.TryTime("created_at", out row.TimestampMs, out skip)
            || !r.TryCount("tokens_prompt", true, out row.InputTokens, out skip)
            || !r.TryCount("tokens_completion", true, out row.OutputTokens, out skip)
            || !r.TryCount("tokens_cached", false, out row.CacheReadTokens, out skip)
            || !r.TryCount("tokens_reasoning", false, out row.ReasoningTokens, out skip)
            || !r.TryMoney("cost_total", 1, out row.CostUsd, out skip)
            || !r.TryDuration("generation_time_ms", 1, out row.LatencyMs, out skip))
        {
            return false;
        }

        row.Model = r.First("model_permaslug", "model");
        row.Error = UsageValues.IsTrue(r.Get("cancelled") ?? string.Empty)
            || string.Equals(r.Get("finish_reason")?.Trim(), "error", StringComparison.OrdinalIgnoreCase);
        row.Feature = r.First("app_name", "api_key_name");
        row.UserTier = r.First("user");
        return true;
    }
}
