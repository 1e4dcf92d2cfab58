namespace Apex.Agents.Data.Import;

/// <summary>
/// Anthropic Console usage export CSV (<c>claude_api_tokens_*.csv</c>): hourly or daily rows per model,
/// key and workspace. Its input count excludes cache reads and writes, so input = no_cache + writes +
/// reads. It has no request count: each row counts as one (aggregated) call.
/// </summary>
internal sealed class AnthropicUsageCsvFormat : IUsageFormat
{
    public string Id => "anthropic_usage_csv";
    public string Name => "Anthropic Console usage export";

    public bool Recognises(IReadOnlySet<string> keys) => Keys.All(keys, "usage_input_tokens_no_cache", "usage_output_tokens");

    public bool TryRead(IUsageRecord r, ref ImportedRow row, out string? skip)
    {
        if (!r.TryTime("usage_date_utc", out row.TimestampMs, out skip)
            || !r.TryCount("usage_input_tokens_no_cache", true, out var noCache, out skip)
            || !r.TryCount("usage_input_tokens_cache_write_5m", false, out var write5m, out skip)
            || !r.TryCount("usage_input_tokens_cache_write_1h", false, out var write1h, out skip)
            || !r.TryCount("usage_input_tokens_cache_read", false, out var read, out skip)
            || !r.TryCount("usage_output_tokens", true, out row.OutputTokens, out skip))
        {
            return false;
        }

        row.Model = r.First("model_version", "model");
        row.CacheWriteTokens = write5m + write1h;
        row.CacheReadTokens = read;
        row.InputTokens = noCache + write5m + write1h + read;
        row.Aggregated = true;
        row.Feature = r.First("workspace", "api_key");
        return true;
    }

    public string? Note => AnthropicNotes.NoRequests;
}

/// <summary>Anthropic Admin API <c>usage_report/messages</c>: buckets (<c>starting_at</c>) holding <c>results[]</c> with nested cache creation counts.</summary>
internal sealed class AnthropicUsageApiFormat : IUsageFormat
{
    public string Id => "anthropic_usage_api";
    public string Name => "Anthropic usage report API (messages) response";

    public bool Recognises(IReadOnlySet<string> keys) => Keys.All(keys, "uncached_input_tokens", "output_tokens");

    public bool TryRead(IUsageRecord r, ref ImportedRow row, out string? skip)
    {
        if (!r.TryTime("starting_at", out row.TimestampMs, out skip)
            || !r.TryCount("uncached_input_tokens", true, out var noCache, out skip)
            || !r.TryCount("cache_creation.ephemeral_5m_input_tokens", false, out var write5m, out skip)
            || !r.TryCount("cache_creation.ephemeral_1h_input_tokens", false, out var write1h, out skip)
            || !r.TryCount("cache_read_input_tokens", false, out var read, out skip)
            || !r.TryCount("output_tokens", true, out row.OutputTokens, out skip))
        {
            return false;
        }

        row.Model = r.Get("model");
        if (string.IsNullOrWhiteSpace(row.Model))
        {
            skip = "model is missing (request the report with group_by[]=model)";
            return false;
        }

        row.CacheWriteTokens = write5m + write1h;
        row.CacheReadTokens = read;
        row.InputTokens = noCache + write5m + write1h + read;
        row.Aggregated = true;
        row.Feature = r.First("workspace_id", "api_key_id");
        return true;
    }

    public string? Note => AnthropicNotes.NoRequests;
}

/// <summary>Anthropic Console cost export CSV: cost per model, token type and day; no tokens.</summary>
internal sealed class AnthropicCostCsvFormat : IUsageFormat
{
    public string Id => "anthropic_cost_csv";
    public string Name => "Anthropic Console cost export";

    public bool Recognises(IReadOnlySet<string> keys) => Keys.All(keys, "usage_date_utc", "cost_usd") && Keys.Any(keys, "token_type", "cost_type");

    public bool TryRead(IUsageRecord r, ref ImportedRow row, out string? skip)
    {
        if (!r.TryTime("usage_date_utc", out row.TimestampMs, out skip) || !r.TryMoney("cost_usd", 1, out row.CostUsd, out skip))
        {
            return false;
        }

        row.Model = r.First("model", "model_version", "description") ?? r.Get("cost_type");
        row.Feature = r.First("workspace", "api_key");
        row.CostOnly = true;
        return true;
    }

    public string? Note => CostOnlyNote.Text("Anthropic", "the Console's Usage page export (claude_api_tokens_*.csv with usage_input_tokens_no_cache, cache and output tokens)");
}

internal static class AnthropicNotes
{
    public const string NoRequests =
        "Anthropic usage exports have no request counts: each row (a model's tokens for one hour or day) counts as one aggregated call, so call counts are row counts and per-call statistics (latency, repeats) are unavailable.";
}
