using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.RegularExpressions;
using Apex.Contracts;

namespace Apex.Agents.Catalog;

/// <summary>One model's list prices (USD per million tokens) and what the optimiser needs to compare it.</summary>
public sealed record ModelPrice
{
    public required string Id { get; init; }
    public required string Provider { get; init; }
    public IReadOnlyList<string> Aliases { get; init; } = [];
    public required decimal InputPerMillion { get; init; }
    public required decimal OutputPerMillion { get; init; }
    public required decimal CachedInputPerMillion { get; init; }

    /// <summary>Price of prompt tokens written to the cache (Anthropic: 1.25× input); null when writes bill as input.</summary>
    public decimal? CacheWritePerMillion { get; init; }

    /// <summary>True for a reasoning model: it bills hidden reasoning tokens as output.</summary>
    public bool Reasoning { get; init; }

    /// <summary>The current model that replaces this one when it is retired or superseded; null when current.</summary>
    public string? Successor { get; init; }

    /// <summary>Fraction taken off by the provider's batch API (0.5 = half price); 0 when there is none.</summary>
    public required decimal BatchDiscount { get; init; }
    public required int ContextWindow { get; init; }

    /// <summary>3 frontier, 2 mid-size, 1 small.</summary>
    public required int QualityTier { get; init; }
    public required string PriceDate { get; init; }
    public required string Source { get; init; }

    /// <summary>Cost of one call: uncached input, cached input and output tokens at this model's prices.</summary>
    public double CostOf(long inputTokens, long cachedInputTokens, long outputTokens) =>
        CostOf(inputTokens, cachedInputTokens, 0, outputTokens, 1);

    /// <summary>
    /// Cost of <paramref name="requests"/> calls together: <paramref name="inputTokens"/> counts every
    /// prompt token, cache reads and cache writes included; each part is billed at its own price.
    /// </summary>
    public double CostOf(long inputTokens, long cacheReadTokens, long cacheWriteTokens, long outputTokens, long requests)
    {
        var read = Math.Clamp(cacheReadTokens, 0, inputTokens);
        var write = Math.Clamp(cacheWriteTokens, 0, inputTokens - read);
        return ((inputTokens - read - write) * (double)InputPerMillion
            + read * (double)CachedInputPerMillion
            + write * (double)(CacheWritePerMillion ?? InputPerMillion)
            + outputTokens * (double)OutputPerMillion) / 1_000_000d;
    }
}

/// <summary>The catalog file's shape (Catalog/prices.json).</summary>
public sealed record PriceCatalogFile
{
    public required string Version { get; init; }
    public string Currency { get; init; } = "USD";
    public string? Notes { get; init; }
    public required IReadOnlyList<ModelPrice> Models { get; init; }
}

/// <summary>
/// Section <c>Catalog</c>: <c>Catalog:File</c> names a JSON file in the shape of the embedded
/// prices.json whose entries replace (same id) or extend the built-in ones, so an operator can apply
/// negotiated prices or add a self-hosted model without a new release.
/// </summary>
public sealed class CatalogOptions
{
    public const string Section = "Catalog";

    public string? File { get; set; }

    /// <summary>When true the file replaces the built-in catalog instead of extending it.</summary>
    public bool ReplaceBuiltIn { get; set; }
}

/// <summary>The price catalog: model lookup by id or alias, tolerant of provider prefixes and date suffixes.</summary>
public sealed partial class PriceCatalog
{
    private readonly Dictionary<string, ModelPrice> _byName = new(StringComparer.OrdinalIgnoreCase);

    public PriceCatalog(string version, IReadOnlyList<ModelPrice> models)
    {
        Version = version;
        Models = models;
        foreach (var model in models)
        {
            _byName[model.Id] = model;
            foreach (var alias in model.Aliases)
            {
                _byName.TryAdd(alias, model);
            }
        }
    }

    public string Version { get; }

    public IReadOnlyList<ModelPrice> Models { get; }

    public static PriceCatalog LoadBuiltIn() => FromFile(ReadBuiltIn());

    public static PriceCatalogFile ReadBuiltIn()
    {
        using var stream = typeof(PriceCatalog).Assembly.GetManifestResourceStream("Apex.Agents.Catalog.prices.json")
            ?? throw new InvalidOperationException("The embedded price catalog is missing.");
        return JsonSerializer.Deserialize<PriceCatalogFile>(stream, ApexJson.Options)
            ?? throw new InvalidOperationException("The embedded price catalog is empty.");
    }

    public static PriceCatalog FromFile(PriceCatalogFile file) => new(file.Version, file.Models);

    /// <summary>The built-in catalog with the operator's file applied (see <see cref="CatalogOptions"/>).</summary>
    public static PriceCatalog Load(CatalogOptions options)
    {
        var builtIn = ReadBuiltIn();
        if (string.IsNullOrWhiteSpace(options.File))
        {
            return FromFile(builtIn);
        }

        PriceCatalogFile overrides;
        try
        {
            using var stream = System.IO.File.OpenRead(options.File);
            overrides = JsonSerializer.Deserialize<PriceCatalogFile>(stream, ApexJson.Options)
                ?? throw new InvalidOperationException($"Catalog:File '{options.File}' is empty.");
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"Catalog:File '{options.File}' cannot be read: {e.Message}", e);
        }

        var problems = Validate(overrides.Models);
        if (problems.Count > 0)
        {
            throw new InvalidOperationException($"Catalog:File '{options.File}' is invalid: {string.Join("; ", problems)}");
        }

        var merged = options.ReplaceBuiltIn
            ? overrides.Models.ToList()
            : builtIn.Models.Where(m => overrides.Models.All(o => !string.Equals(o.Id, m.Id, StringComparison.OrdinalIgnoreCase)))
                .Concat(overrides.Models).ToList();
        return new PriceCatalog($"{builtIn.Version}+{overrides.Version}", merged);
    }

    /// <summary>Every problem that makes an entry unusable for pricing (empty list: all complete).</summary>
    public static List<string> Validate(IEnumerable<ModelPrice> models)
    {
        var problems = new List<string>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var m in models)
        {
            var id = string.IsNullOrWhiteSpace(m.Id) ? "(no id)" : m.Id;
            if (!seen.Add(id))
            {
                problems.Add($"{id}: duplicate id");
            }

            if (string.IsNullOrWhiteSpace(m.Provider)) problems.Add($"{id}: provider is empty");
            if (m.InputPerMillion <= 0) problems.Add($"{id}: input_per_million must be > 0");
            if (m.OutputPerMillion <= 0) problems.Add($"{id}: output_per_million must be > 0");
            if (m.CachedInputPerMillion <= 0 || m.CachedInputPerMillion > m.InputPerMillion)
                problems.Add($"{id}: cached_input_per_million must be > 0 and <= input_per_million");
            if (m.BatchDiscount is < 0 or >= 1) problems.Add($"{id}: batch_discount must be in [0, 1)");
            if (m.ContextWindow <= 0) problems.Add($"{id}: context_window must be > 0");
            if (m.QualityTier is < 1 or > 3) problems.Add($"{id}: quality_tier must be 1, 2 or 3");
            if (!DateOnly.TryParseExact(m.PriceDate, "yyyy-MM-dd", out _)) problems.Add($"{id}: price_date must be yyyy-MM-dd");
            if (!Uri.TryCreate(m.Source, UriKind.Absolute, out var source) || source.Scheme != Uri.UriSchemeHttps)
                problems.Add($"{id}: source must be an https URL");
        }

        return problems;
    }

    /// <summary>Finds a model by id or alias; accepts <c>openai/gpt-4o</c> and dated ids such as <c>gpt-4o-2024-05-13</c>.</summary>
    public ModelPrice? Find(string? model)
    {
        if (string.IsNullOrWhiteSpace(model))
        {
            return null;
        }

        var name = model.Trim();
        if (_byName.TryGetValue(name, out var found))
        {
            return found;
        }

        var slash = name.LastIndexOf('/');
        if (slash >= 0 && slash < name.Length - 1)
        {
            name = name[(slash + 1)..];
            if (_byName.TryGetValue(name, out found))
            {
                return found;
            }
        }

        var undated = DateSuffix().Replace(name, string.Empty);
        return undated.Length != name.Length && _byName.TryGetValue(undated, out found) ? found : null;
    }

    /// <summary>Every name a model is known by, longest first, for finding model names in free text.</summary>
    public IEnumerable<(string Name, ModelPrice Model)> Names() =>
        _byName.Select(kv => (kv.Key, kv.Value)).OrderByDescending(kv => kv.Key.Length).ThenBy(kv => kv.Key, StringComparer.Ordinal);

    [GeneratedRegex(@"-(\d{4}-\d{2}-\d{2}|\d{8}|\d{4})$")]
    private static partial Regex DateSuffix();
}
