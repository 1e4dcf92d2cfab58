namespace Apex.Agents.Data.Import;

/// <summary>
/// OpenAI dashboard Usage → Activity export CSV: one (period, model, project, key…) bucket per row with
/// <c>num_model_requests</c>; input_tokens include the cached ones (<c>input_cached_tokens</c>). No cost column.
/// </summary>
internal sealed class OpenAiActivityCsvFormat : IUsageFormat
{
    public string Id => "openai_usage_csv";
    public string Name => "OpenAI usage (activity) export";

    public bool Recognises(IReadOnlySet<string> keys) =>
        Keys.All(keys, "num_model_requests", "input_tokens", "output_tokens") && Keys.Any(keys, "start_time", "start_time_iso", "date");

    public bool TryRead(IUsageRecord r, ref ImportedRow row, out string? skip) => OpenAiUsage.Read(r, ref row, out skip);
}

/// <summary>OpenAI Admin API <c>GET /v1/organization/usage/completions</c>: <c>data[]</c> buckets holding <c>results[]</c>.</summary>
internal sealed class OpenAiUsageApiFormat : IUsageFormat
{
    public string Id => "openai_usage_api";
    public string Name => "OpenAI usage API (completions) response";

    public bool Recognises(IReadOnlySet<string> keys) => Keys.All(keys, "num_model_requests", "input_tokens", "output_tokens");

    public bool TryRead(IUsageRecord r, ref ImportedRow row, out string? skip) => OpenAiUsage.Read(r, ref row, out skip);

    public string? Note => "Read the OpenAI usage API buckets grouped by model (group_by=model); buckets without a model are skipped.";
}

internal static class OpenAiUsage
{
    public static bool Read(IUsageRecord r, ref ImportedRow row, out string? skip)
    {
        var time = r.First("start_time_iso", "start_time", "date");
        if (!UsageValues.TryParseTimestamp(time, out row.TimestampMs))
        {
            skip = time is null ? "start_time is missing" : "start_time is not a timestamp";
            return false;
        }

        row.Model = r.Get("model");
        if (string.IsNullOrWhiteSpace(row.Model))
        {
            skip = "model is missing (export the usage grouped by model)";
            return false;
        }

        if (!r.TryCount("num_model_requests", true, out row.Requests, out skip)
            || !r.TryCount("input_tokens", true, out row.InputTokens, out skip)
            || !r.TryCount("output_tokens", true, out row.OutputTokens, out skip)
            || !r.TryCount("input_cached_tokens", false, out row.CacheReadTokens, out skip))
        {
            return false;
        }

        if (row.Requests == 0)
        {
            skip = "num_model_requests is 0";
            return false;
        }

        row.Aggregated = true;
        row.Feature = r.First("project_name", "project_id", "api_key_name", "api_key_id");
        row.UserTier = r.First("user_email", "user_id");
        return true;
    }
}

/// <summary>OpenAI dashboard Cost export CSV: cost line items (<c>amount_value</c>, <c>line_item</c>), no tokens.</summary>
internal sealed class OpenAiCostCsvFormat : IUsageFormat
{
    public string Id => "openai_cost_csv";
    public string Name => "OpenAI cost export";

    public bool Recognises(IReadOnlySet<string> keys) => Keys.All(keys, "amount_value", "line_item");

    public bool TryRead(IUsageRecord r, ref ImportedRow row, out string? skip)
    {
        var time = r.First("start_time_iso", "start_time", "date");
        if (!UsageValues.TryParseTimestamp(time, out row.TimestampMs))
        {
            skip = time is null ? "start_time is missing" : "start_time is not a timestamp";
            return false;
        }

        var currency = r.Get("amount_currency");
        if (!string.IsNullOrWhiteSpace(currency) && !currency.Trim().Equals("usd", StringComparison.OrdinalIgnoreCase))
        {
            skip = $"amount_currency is {currency.Trim()}, not USD";
            return false;
        }

        if (!r.TryMoney("amount_value", 1, out row.CostUsd, out skip))
        {
            return false;
        }

        // Line items read "gpt-4o-2024-08-06, input": the model is the part before the comma.
        var item = r.Get("line_item")?.Trim() ?? string.Empty;
        var comma = item.IndexOf(',', StringComparison.Ordinal);
        row.Model = comma > 0 ? item[..comma].Trim() : item;
        row.Feature = r.First("project_name", "project_id");
        row.CostOnly = true;
        return true;
    }

    public string? Note => CostOnlyNote.Text("OpenAI", "the Usage page's Activity export (Export → usage CSV with num_model_requests, input_tokens, output_tokens)");
}

internal static class CostOnlyNote
{
    public static string Text(string vendor, string export) =>
        $"This is a {vendor} cost export: it has spend per model or line item but no tokens or calls, so Apex gives the spend breakdown only. "
        + $"Per-call advice (caching, model switches, failed calls, latency) needs the usage export instead: {export}.";
}
