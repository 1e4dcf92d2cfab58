using Apex.Agents.Catalog;

namespace Apex.Agents.Data.Import;

/// <summary>
/// The rules every format shares, applied to the rows its reader understood: timestamps in the future
/// and rows without a model are skipped with their line number; a row without a cost is priced from
/// the catalog, and a model the catalog does not know gets a warning and an unknown cost (never $0);
/// a file cost that differs from the catalog price of the same tokens by 3x or more is flagged per
/// model. Rows are stored in <see cref="UsageColumns"/> chunks as they come, so memory stays bounded.
/// </summary>
public sealed class UsageRowBuilder
{
    public const int MaxListedWarnings = 50;

    /// <summary>A file cost this many times above or below the catalog price is flagged.</summary>
    public const double CostMismatchFactor = 3;

    /// <summary>Tolerated clock skew before a timestamp counts as "in the future".</summary>
    private static readonly TimeSpan FutureTolerance = TimeSpan.FromMinutes(10);

    private readonly PriceCatalog _catalog;
    private readonly long _nowMs;
    private readonly UsageColumns _chunk = new();
    private readonly Dictionary<string, (int Calls, int Unpriced)> _unknownModels = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, (double File, double Catalog)> _costCheck = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ModelPrice?> _prices = new(StringComparer.Ordinal);
    private readonly List<string> _rowWarnings = [];
    private int _skipped;
    private int _moreWarnings;
    private long _minTs = long.MaxValue;
    private long _maxTs = long.MinValue;
    private bool _anyAggregated;
    private bool _anyPerCall;
    private bool _anyCostOnly;

    public UsageRowBuilder(PriceCatalog catalog, TimeProvider time, IReadOnlyList<string> columns)
    {
        _catalog = catalog;
        _nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        Result = new UsageParseResult { Columns = columns };
    }

    public UsageParseResult Result { get; }

    /// <summary>Validates, prices and stores one row; a row that breaks a rule is skipped and reported.</summary>
    public void Add(ref ImportedRow r, long position, string unit = "line")
    {
        if (r.TimestampMs > _nowMs + (long)FutureTolerance.TotalMilliseconds)
        {
            Skip(position, "timestamp is in the future", unit);
            return;
        }

        var model = Intern((r.Model ?? string.Empty).AsSpan().Trim());
        if (model.Length == 0)
        {
            Skip(position, "model is missing", unit);
            return;
        }

        if (r.InputTokens < 0 || r.OutputTokens < 0 || r.CacheReadTokens < 0 || r.CacheWriteTokens < 0 || r.ReasoningTokens < 0)
        {
            Skip(position, "a token count is negative", unit);
            return;
        }

        if (r.InputTokens > int.MaxValue || r.OutputTokens > int.MaxValue || r.Requests > int.MaxValue)
        {
            Skip(position, "a token or request count is too large", unit);
            return;
        }

        if (r.CacheReadTokens + r.CacheWriteTokens > r.InputTokens)
        {
            Skip(position, "cached_input_tokens is larger than input_tokens", unit);
            return;
        }

        var requests = (int)Math.Max(1, r.Requests);
        byte flags = 0;
        var cost = r.CostUsd;
        if (r.CostOnly)
        {
            if (double.IsNaN(cost))
            {
                Skip(position, "the cost is missing", unit);
                return;
            }

            _anyCostOnly = true;
            flags |= UsageFlags.Aggregated | UsageFlags.CostOnly;
        }
        else
        {
            if (!_prices.TryGetValue(model, out var price))
            {
                _prices[model] = price = _catalog.Find(model);
            }

            if (!double.IsNaN(cost))
            {
                if (price is not null && cost > 0)
                {
                    var catalogCost = price.CostOf(r.InputTokens, r.CacheReadTokens, r.CacheWriteTokens, r.OutputTokens, requests);
                    _costCheck.TryGetValue(model, out var sums);
                    _costCheck[model] = (sums.File + cost, sums.Catalog + catalogCost);
                }
            }
            else if (price is not null)
            {
                cost = price.CostOf(r.InputTokens, r.CacheReadTokens, r.CacheWriteTokens, r.OutputTokens, requests);
                flags |= UsageFlags.CostFromCatalog;
            }

            if (price is null)
            {
                _unknownModels.TryGetValue(model, out var unknown);
                _unknownModels[model] = (unknown.Calls + requests, unknown.Unpriced + (double.IsNaN(cost) ? requests : 0));
            }

            if (r.Aggregated)
            {
                flags |= UsageFlags.Aggregated;
                _anyAggregated = true;
            }
            else
            {
                _anyPerCall = true;
            }

            Result.Calls += requests;
        }

        if (r.Error)
        {
            flags |= UsageFlags.Error;
        }

        if (r.Interactive is { } interactive)
        {
            flags |= interactive ? (byte)(UsageFlags.InteractiveKnown | UsageFlags.Interactive) : UsageFlags.InteractiveKnown;
        }

        var row = new UsageRow
        {
            TimestampMs = r.TimestampMs,
            Model = model,
            Feature = Intern((r.Feature ?? string.Empty).AsSpan().Trim()),
            UserTier = Intern((r.UserTier ?? string.Empty).AsSpan().Trim()),
            InputTokens = (int)r.InputTokens,
            OutputTokens = (int)r.OutputTokens,
            CachedInputTokens = (int)r.CacheReadTokens,
            CacheWriteTokens = (int)r.CacheWriteTokens,
            ReasoningTokens = (int)Math.Min(r.ReasoningTokens, r.OutputTokens),
            Requests = requests,
            LatencyMs = r.LatencyMs,
            CostUsd = cost,
            PromptHash = r.PromptHash,
            Flags = flags,
        };
        _chunk.Add(row);
        Result.Rows++;
        _minTs = Math.Min(_minTs, r.TimestampMs);
        _maxTs = Math.Max(_maxTs, r.TimestampMs);
        if (_chunk.Count == UsageColumns.ChunkRows)
        {
            Result.Chunks.Add(_chunk.Encode());
            _chunk.Clear();
        }
    }

    /// <summary>One string instance per distinct value: a million rows share a few dozen models and features.</summary>
    public string Intern(ReadOnlySpan<char> span)
    {
        if (span.IsEmpty)
        {
            return string.Empty;
        }

        var lookup = _names.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(span, out var name))
        {
            return name;
        }

        name = span.ToString();
        _names[name] = name;
        return name;
    }

    public void Skip(long position, string reason, string unit = "line")
    {
        _skipped++;
        if (_rowWarnings.Count < MaxListedWarnings)
        {
            _rowWarnings.Add(position < 0 ? $"Skipped: {reason}." : $"{char.ToUpperInvariant(unit[0])}{unit[1..]} {position}: skipped, {reason}.");
        }
        else
        {
            _moreWarnings++;
        }
    }

    /// <summary>Flushes the last chunk and writes the summary warnings; <paramref name="format"/> names the file in errors.</summary>
    public UsageParseResult Finish(string format)
    {
        if (_chunk.Count > 0)
        {
            Result.Chunks.Add(_chunk.Encode());
            _chunk.Clear();
        }

        var warnings = Result.Warnings;
        foreach (var (model, (calls, unpriced)) in _unknownModels.OrderByDescending(m => m.Value.Calls).ThenBy(m => m.Key, StringComparer.Ordinal).Take(20))
        {
            warnings.Add(unpriced > 0
                ? $"Unknown model '{model}' ({calls} calls) is not in the price catalog: {unpriced} of its calls have no cost_usd, so their cost is unknown and left out of cost figures (not counted as $0)."
                : $"Unknown model '{model}' ({calls} calls) is not in the price catalog: its cost_usd values are used, but no cheaper model can be recommended for it.");
        }

        if (_unknownModels.Count > 20)
        {
            warnings.Add($"... and {_unknownModels.Count - 20} more unknown models.");
        }

        foreach (var (model, (file, catalog)) in _costCheck.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            if (catalog > 0 && (file >= catalog * CostMismatchFactor || file * CostMismatchFactor <= catalog))
            {
                warnings.Add(FormattableString.Invariant(
                    $"Model '{model}': the file's costs (${file:0.######}) differ from the catalog price of the same tokens (${catalog:0.######}) by {Math.Max(file / catalog, catalog / file):0.#}x; Apex uses the file's figure (${file:0.######}). Check the export's currency or units, or negotiated prices."));
            }
        }

        warnings.AddRange(_rowWarnings);
        if (_moreWarnings > 0)
        {
            warnings.Add($"... and {_moreWarnings} more skipped rows (the first {MaxListedWarnings} are listed).");
        }

        if (_skipped > 0)
        {
            warnings.Add($"{_skipped} row(s) skipped in total.");
        }

        Result.Aggregated = _anyAggregated && !_anyPerCall;
        Result.CostOnly = _anyCostOnly && !_anyAggregated && !_anyPerCall;
        if (Result.Rows == 0)
        {
            Result.Error ??= _skipped > 0
                ? $"The {format} file has no valid usage row ({_skipped} row(s) skipped; see warnings)."
                : $"The {format} file has no usage rows.";
            Result.Chunks.Clear();
            return Result;
        }

        Result.PeriodStart = DateTimeOffset.FromUnixTimeMilliseconds(_minTs);
        Result.PeriodEnd = DateTimeOffset.FromUnixTimeMilliseconds(_maxTs);
        return Result;
    }

    /// <summary>Refuses the whole upload: nothing of it is stored.</summary>
    public UsageParseResult Fail(string error, string? code = null)
    {
        Result.Error = error;
        Result.ErrorCode = code;
        Result.Chunks.Clear();
        return Result;
    }
}
