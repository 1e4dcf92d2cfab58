using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Apex.Agents.Catalog;

/// <summary>
/// The genai-prices database (Catalog/genai-prices/data.json, see its README): providers, their
/// models, the rules that match model names seen in traffic, and prices per million tokens.
/// Every shape of its schema is either used or deliberately ignored; anything else read from the
/// file is recorded in <see cref="Unhandled"/> so a refreshed file with a new shape is noticed.
/// </summary>
public sealed class GenAiPriceData
{
    /// <summary>Price keys Apex bills: text input, output, cache reads, cache writes, and per-request fees.</summary>
    private static readonly HashSet<string> PriceKeys = ["input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "requests_kcount"];

    /// <summary>
    /// Audio, image and video token prices: usage rows carry text token counts only (contract A), so
    /// these never apply to a row; the text prices of the same model do.
    /// </summary>
    private static readonly HashSet<string> IgnoredPriceKeys =
    [
        "input_audio_mtok", "cache_audio_read_mtok", "output_audio_mtok", "cache_audio_write_mtok",
        "input_image_mtok", "output_image_mtok", "cache_image_read_mtok", "cache_image_write_mtok",
        "input_video_mtok", "output_video_mtok", "cache_video_read_mtok", "cache_video_write_mtok",
    ];

    /// <summary>
    /// Provider keys used (id, name, pricing_urls, model_match, provider_match, models,
    /// fallback_model_providers) and ignored: api_pattern (Apex never sees request URLs), extractors
    /// (Apex reads usage exports, not API responses), description and price_comments (prose).
    /// </summary>
    private static readonly HashSet<string> ProviderKeys =
        ["id", "name", "pricing_urls", "model_match", "provider_match", "models", "fallback_model_providers", "api_pattern", "extractors", "description", "price_comments"];

    /// <summary>Model keys used (id, name, match, context_window, prices, deprecated) and ignored (description, price_comments).</summary>
    private static readonly HashSet<string> ModelKeys = ["id", "name", "match", "context_window", "prices", "deprecated", "description", "price_comments"];

    private GenAiPriceData(IReadOnlyList<GenAiProvider> providers, IReadOnlyList<string> unhandled)
    {
        Providers = providers;
        Unhandled = unhandled;
        ById = providers.ToDictionary(p => p.Id, StringComparer.OrdinalIgnoreCase);
    }

    public IReadOnlyList<GenAiProvider> Providers { get; }

    public IReadOnlyDictionary<string, GenAiProvider> ById { get; }

    /// <summary>Every shape in the file that Apex neither uses nor deliberately ignores (path: what).</summary>
    public IReadOnlyList<string> Unhandled { get; }

    public static GenAiPriceData LoadEmbedded()
    {
        using var stream = typeof(GenAiPriceData).Assembly.GetManifestResourceStream("Apex.Agents.Catalog.genai-prices.data.json")
            ?? throw new InvalidOperationException("The embedded genai-prices data is missing.");
        using var doc = JsonDocument.Parse(stream);
        return Parse(doc.RootElement);
    }

    public static GenAiPriceData Parse(JsonElement root)
    {
        var unhandled = new List<string>();
        var providers = new List<GenAiProvider>();
        foreach (var p in root.EnumerateArray())
        {
            var id = p.GetProperty("id").GetString()!;
            foreach (var prop in p.EnumerateObject().Where(prop => !ProviderKeys.Contains(prop.Name)))
            {
                unhandled.Add($"{id}: provider key '{prop.Name}'");
            }

            var models = new List<GenAiModel>();
            foreach (var m in p.GetProperty("models").EnumerateArray())
            {
                models.Add(ParseModel(id, m, unhandled));
            }

            providers.Add(new GenAiProvider
            {
                Id = id,
                Name = Text(p, "name") ?? id,
                PricingUrl = p.TryGetProperty("pricing_urls", out var urls) && urls.GetArrayLength() > 0 ? urls[0].GetString() : null,
                ModelMatch = p.TryGetProperty("model_match", out var mm) ? MatchRule.Parse(mm, $"{id}.model_match", unhandled) : null,
                ProviderMatch = p.TryGetProperty("provider_match", out var pm) ? MatchRule.Parse(pm, $"{id}.provider_match", unhandled) : null,
                Fallbacks = p.TryGetProperty("fallback_model_providers", out var fb) ? [.. fb.EnumerateArray().Select(f => f.GetString()!)] : [],
                Models = models,
            });
        }

        return new GenAiPriceData(providers, unhandled);
    }

    private static GenAiModel ParseModel(string providerId, JsonElement m, List<string> unhandled)
    {
        var id = m.GetProperty("id").GetString()!;
        var path = $"{providerId}/{id}";
        foreach (var prop in m.EnumerateObject().Where(prop => !ModelKeys.Contains(prop.Name)))
        {
            unhandled.Add($"{path}: model key '{prop.Name}'");
        }

        var prices = new List<ConditionalPrice>();
        var raw = m.GetProperty("prices");
        if (raw.ValueKind == JsonValueKind.Array)
        {
            foreach (var c in raw.EnumerateArray())
            {
                prices.Add(ParseConditional(c, path, unhandled));
            }
        }
        else
        {
            prices.Add(new ConditionalPrice { Prices = ParsePriceSet(raw, path, unhandled) });
        }

        return new GenAiModel
        {
            ProviderId = providerId,
            Id = id,
            Name = Text(m, "name"),
            Match = MatchRule.Parse(m.GetProperty("match"), $"{path}.match", unhandled),
            ContextWindow = m.TryGetProperty("context_window", out var cw) && cw.TryGetInt32(out var w) ? w : 0,
            Deprecated = m.TryGetProperty("deprecated", out var d) && d.ValueKind == JsonValueKind.True,
            Prices = prices,
        };
    }

    private static ConditionalPrice ParseConditional(JsonElement c, string path, List<string> unhandled)
    {
        DateOnly? start = null;
        TimeOnly? from = null, until = null;
        foreach (var prop in c.EnumerateObject())
        {
            if (prop.Name == "constraint")
            {
                foreach (var k in prop.Value.EnumerateObject())
                {
                    switch (k.Name)
                    {
                        case "start_date":
                            start = DateOnly.ParseExact(k.Value.GetString()!, "yyyy-MM-dd", CultureInfo.InvariantCulture);
                            break;
                        case "start_time":
                            from = ParseTime(k.Value.GetString()!);
                            break;
                        case "end_time":
                            until = ParseTime(k.Value.GetString()!);
                            break;
                        default:
                            unhandled.Add($"{path}: constraint key '{k.Name}'");
                            break;
                    }
                }
            }
            else if (prop.Name != "prices")
            {
                unhandled.Add($"{path}: conditional price key '{prop.Name}'");
            }
        }

        if ((from is null) != (until is null))
        {
            unhandled.Add($"{path}: time-of-day constraint without both start_time and end_time");
        }

        return new ConditionalPrice { Prices = ParsePriceSet(c.GetProperty("prices"), path, unhandled), StartDate = start, StartTime = from, EndTime = until };
    }

    private static TimeOnly ParseTime(string text) => TimeOnly.Parse(text.TrimEnd('Z'), CultureInfo.InvariantCulture);

    private static PriceSet ParsePriceSet(JsonElement p, string path, List<string> unhandled)
    {
        var values = new Dictionary<string, TieredValue>(StringComparer.Ordinal);
        var ignored = new List<string>();
        foreach (var prop in p.EnumerateObject())
        {
            if (IgnoredPriceKeys.Contains(prop.Name))
            {
                ignored.Add(prop.Name);
                continue;
            }

            if (!PriceKeys.Contains(prop.Name))
            {
                unhandled.Add($"{path}: price key '{prop.Name}'");
                continue;
            }

            var value = TieredValue.Parse(prop.Value, $"{path}.{prop.Name}", unhandled);
            if (value is not null)
            {
                values[prop.Name] = value;
            }
        }

        return new PriceSet
        {
            Input = values.GetValueOrDefault("input_mtok"),
            Output = values.GetValueOrDefault("output_mtok"),
            CacheRead = values.GetValueOrDefault("cache_read_mtok"),
            CacheWrite = values.GetValueOrDefault("cache_write_mtok"),
            RequestsPerThousand = values.GetValueOrDefault("requests_kcount")?.Base,
            Ignored = ignored,
        };
    }

    private static string? Text(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}

public sealed class GenAiProvider
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public string? PricingUrl { get; init; }

    /// <summary>Names that belong to this provider's own models (e.g. contains "claude"): the origin provider.</summary>
    public MatchRule? ModelMatch { get; init; }

    /// <summary>Provider names that mean this provider (e.g. "bedrock" for aws).</summary>
    public MatchRule? ProviderMatch { get; init; }

    /// <summary>Providers whose models this one also serves at their prices (azure: openai, anthropic).</summary>
    public required IReadOnlyList<string> Fallbacks { get; init; }
    public required IReadOnlyList<GenAiModel> Models { get; init; }

    /// <summary>The first model whose rule matches, as genai-prices does, with the clause that matched.</summary>
    public (GenAiModel Model, MatchRule Clause)? FindModel(string name)
    {
        foreach (var m in Models)
        {
            var hit = m.Match.Hit(name);
            if (hit is not null)
            {
                return (m, hit);
            }
        }

        return null;
    }
}

public sealed class GenAiModel
{
    public required string ProviderId { get; init; }
    public required string Id { get; init; }
    public string? Name { get; init; }
    public required MatchRule Match { get; init; }
    public int ContextWindow { get; init; }
    public bool Deprecated { get; init; }
    public required IReadOnlyList<ConditionalPrice> Prices { get; init; }

    /// <summary>
    /// The price in force on <paramref name="today"/>: genai-prices tries the conditional prices last to
    /// first and uses the first whose constraint holds, else the first one. A start date holds from that
    /// day on. A time-of-day window (DeepSeek's standard hours; the unconstrained price is its off-peak
    /// discount) is taken as holding: a name has one list price, and the standard rate is the one that
    /// applies most of the day, so off-peak traffic is never under-priced.
    /// </summary>
    public (ConditionalPrice Price, string? Note) PriceOn(DateOnly today)
    {
        for (var i = Prices.Count - 1; i >= 0; i--)
        {
            var c = Prices[i];
            if (c.StartDate is { } start && start > today)
            {
                continue;
            }

            string? note = null;
            if (c.StartTime is { } from && c.EndTime is { } until)
            {
                note = $"time-of-day price {from:HH\\:mm}-{until:HH\\:mm} UTC taken as the list price (outside that window the provider charges {Prices[0].Prices.Describe()})";
            }
            else if (c.StartDate is { } since && i > 0)
            {
                note = $"price in force since {since:yyyy-MM-dd} (before: {Prices[0].Prices.Describe()})";
            }

            var next = Prices.Skip(i + 1).FirstOrDefault(p => p.StartDate > today);
            if (next is not null)
            {
                note = (note is null ? "" : note + "; ") + $"from {next.StartDate:yyyy-MM-dd}: {next.Prices.Describe()}";
            }

            return (c, note);
        }

        var first = Prices[0];
        var upcoming = Prices.Skip(1).FirstOrDefault(p => p.StartDate > today);
        return (first, upcoming is null ? null : $"from {upcoming.StartDate:yyyy-MM-dd}: {upcoming.Prices.Describe()}");
    }
}

public sealed class ConditionalPrice
{
    public required PriceSet Prices { get; init; }
    public DateOnly? StartDate { get; init; }
    public TimeOnly? StartTime { get; init; }
    public TimeOnly? EndTime { get; init; }
}

public sealed class PriceSet
{
    public TieredValue? Input { get; init; }
    public TieredValue? Output { get; init; }
    public TieredValue? CacheRead { get; init; }
    public TieredValue? CacheWrite { get; init; }
    public decimal? RequestsPerThousand { get; init; }

    /// <summary>Audio/image/video price keys present but not applicable to text usage rows.</summary>
    public required IReadOnlyList<string> Ignored { get; init; }

    /// <summary>
    /// True when Apex can price text usage with this set: it has a text input price, or it is entirely
    /// free (no price at all). A set with only audio or image prices cannot price token rows.
    /// </summary>
    public bool PricesText => Input is not null || (Output is null && RequestsPerThousand is null && Ignored.Count == 0);

    public string Describe() =>
        $"input {Input?.Base ?? 0}/output {Output?.Base ?? 0}" + (CacheRead is null ? "" : $"/cache read {CacheRead.Base}") + (CacheWrite is null ? "" : $"/cache write {CacheWrite.Base}");
}

/// <summary>A price per million tokens, optionally tiered: above a tier's start the tier price applies to all tokens of the call.</summary>
public sealed class TieredValue
{
    public required decimal Base { get; init; }
    public IReadOnlyList<(long Start, decimal Price)> Tiers { get; init; } = [];

    public decimal At(double promptTokens)
    {
        var price = Base;
        foreach (var (start, p) in Tiers)
        {
            if (promptTokens > start)
            {
                price = p;
            }
        }

        return price;
    }

    internal static TieredValue? Parse(JsonElement e, string path, List<string> unhandled)
    {
        if (e.ValueKind == JsonValueKind.Number)
        {
            return new TieredValue { Base = e.GetDecimal() };
        }

        if (e.ValueKind != JsonValueKind.Object)
        {
            unhandled.Add($"{path}: price of kind {e.ValueKind}");
            return null;
        }

        decimal? value = null;
        var tiers = new List<(long, decimal)>();
        foreach (var prop in e.EnumerateObject())
        {
            if (prop.Name == "base")
            {
                value = prop.Value.GetDecimal();
            }
            else if (prop.Name == "tiers")
            {
                foreach (var t in prop.Value.EnumerateArray())
                {
                    foreach (var k in t.EnumerateObject().Where(k => k.Name is not ("start" or "price")))
                    {
                        unhandled.Add($"{path}: tier key '{k.Name}'");
                    }

                    tiers.Add((t.GetProperty("start").GetInt64(), t.GetProperty("price").GetDecimal()));
                }
            }
            else
            {
                unhandled.Add($"{path}: tiered price key '{prop.Name}'");
            }
        }

        if (value is null)
        {
            unhandled.Add($"{path}: tiered price without base");
            return null;
        }

        return new TieredValue { Base = value.Value, Tiers = [.. tiers.OrderBy(t => t.Item1)] };
    }
}

/// <summary>A genai-prices match clause: equals, starts_with, ends_with, contains, regex, or, and.</summary>
public abstract class MatchRule
{
    /// <summary>The clause that makes <paramref name="name"/> match (the leaf of an or, the whole and), or null.</summary>
    public abstract MatchRule? Hit(string name);

    public bool IsMatch(string name) => Hit(name) is not null;

    public abstract string Describe();

    public static MatchRule Parse(JsonElement e, string path, List<string> unhandled)
    {
        var props = e.EnumerateObject().ToList();
        if (props.Count != 1)
        {
            unhandled.Add($"{path}: match clause with {props.Count} keys");
            return new Never();
        }

        var (key, value) = (props[0].Name, props[0].Value);
        switch (key)
        {
            case "equals":
            case "starts_with":
            case "ends_with":
            case "contains":
                return new Text(key, value.GetString()!);
            case "regex":
                return new Pattern(value.GetString()!);
            case "or":
            case "and":
                return new Logic(key == "and", [.. value.EnumerateArray().Select((c, i) => Parse(c, $"{path}.{key}[{i}]", unhandled))]);
            default:
                unhandled.Add($"{path}: match clause '{key}'");
                return new Never();
        }
    }

    private sealed class Text(string kind, string value) : MatchRule
    {
        public override MatchRule? Hit(string name)
        {
            var ok = kind switch
            {
                "equals" => name.Equals(value, StringComparison.OrdinalIgnoreCase),
                "starts_with" => name.StartsWith(value, StringComparison.OrdinalIgnoreCase),
                "ends_with" => name.EndsWith(value, StringComparison.OrdinalIgnoreCase),
                _ => name.Contains(value, StringComparison.OrdinalIgnoreCase),
            };
            return ok ? this : null;
        }

        public override string Describe() => $"{kind} \"{value}\"";
    }

    private sealed class Pattern(string pattern) : MatchRule
    {
        private readonly Regex _regex = new(pattern, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(200));

        public override MatchRule? Hit(string name) => _regex.IsMatch(name) ? this : null;

        public override string Describe() => $"regex \"{pattern}\"";
    }

    private sealed class Logic(bool all, IReadOnlyList<MatchRule> clauses) : MatchRule
    {
        public override MatchRule? Hit(string name)
        {
            if (all)
            {
                return clauses.All(c => c.IsMatch(name)) ? this : null;
            }

            foreach (var c in clauses)
            {
                if (c.Hit(name) is { } hit)
                {
                    return hit;
                }
            }

            return null;
        }

        public override string Describe() => all ? $"all of ({string.Join(", ", clauses.Select(c => c.Describe()))})" : $"any of ({string.Join(", ", clauses.Select(c => c.Describe()))})";
    }

    private sealed class Never : MatchRule
    {
        public override MatchRule? Hit(string name) => null;

        public override string Describe() => "(unreadable rule)";
    }
}
