using System.Collections.Concurrent;
using System.Globalization;
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

    /// <summary>Prices of calls whose prompt is at most the first tier's start (the base tier).</summary>
    public required decimal InputPerMillion { get; init; }
    public required decimal OutputPerMillion { get; init; }
    public required decimal CachedInputPerMillion { get; init; }

    /// <summary>Price of prompt tokens written to the cache (Anthropic: 1.25× input); null when writes bill as input.</summary>
    public decimal? CacheWritePerMillion { get; init; }

    /// <summary>
    /// Prices for long prompts, lowest start first: a call whose prompt exceeds a tier's start pays that
    /// tier's prices on all its tokens (Anthropic and Google above 200k tokens).
    /// </summary>
    public IReadOnlyList<PriceTier> Tiers { get; init; } = [];

    /// <summary>Fee per thousand requests on top of token prices (some search models); 0 when none.</summary>
    public decimal RequestsPerThousand { get; init; }

    /// <summary>True for a reasoning model: it bills hidden reasoning tokens as output.</summary>
    public bool Reasoning { get; init; }

    /// <summary>The current model that replaces this one when it is retired or superseded; null when current.</summary>
    public string? Successor { get; init; }

    /// <summary>Fraction taken off by the provider's batch API (0.5 = half price); 0 when there is none.</summary>
    public required decimal BatchDiscount { get; init; }

    /// <summary>Largest prompt in tokens; 0 when the price source does not say.</summary>
    public required int ContextWindow { get; init; }

    /// <summary>3 frontier, 2 mid-size, 1 small; 0 unknown (not in Apex's overlay): never a swap target.</summary>
    public required int QualityTier { get; init; }
    public required string PriceDate { get; init; }
    public required string Source { get; init; }

    /// <summary>Cost of one call: uncached input, cached input and output tokens at this model's prices.</summary>
    public double CostOf(long inputTokens, long cachedInputTokens, long outputTokens) =>
        CostOf(inputTokens, cachedInputTokens, 0, outputTokens, 1);

    /// <summary>
    /// Cost of <paramref name="requests"/> calls together: <paramref name="inputTokens"/> counts every
    /// prompt token, cache reads and cache writes included; each part is billed at its own price. A
    /// tiered model is priced at the tier of the mean prompt (input / requests).
    /// </summary>
    public double CostOf(long inputTokens, long cacheReadTokens, long cacheWriteTokens, long outputTokens, long requests)
    {
        var read = Math.Clamp(cacheReadTokens, 0, inputTokens);
        var write = Math.Clamp(cacheWriteTokens, 0, inputTokens - read);
        var (input, output, cached, cacheWrite) = (InputPerMillion, OutputPerMillion, CachedInputPerMillion, CacheWritePerMillion);
        if (Tiers.Count > 0)
        {
            var meanPrompt = inputTokens / (double)Math.Max(1, requests);
            foreach (var t in Tiers)
            {
                if (meanPrompt > t.StartTokens)
                {
                    (input, output, cached, cacheWrite) = (t.InputPerMillion, t.OutputPerMillion, t.CachedInputPerMillion, t.CacheWritePerMillion);
                }
            }
        }

        return ((inputTokens - read - write) * (double)input
            + read * (double)cached
            + write * (double)(cacheWrite ?? input)
            + outputTokens * (double)output) / 1_000_000d
            + Math.Max(0, requests) * (double)RequestsPerThousand / 1000d;
    }
}

/// <summary>Prices of calls whose prompt exceeds <see cref="StartTokens"/>.</summary>
public sealed record PriceTier
{
    public required long StartTokens { get; init; }
    public required decimal InputPerMillion { get; init; }
    public required decimal OutputPerMillion { get; init; }
    public required decimal CachedInputPerMillion { get; init; }
    public decimal? CacheWritePerMillion { get; init; }
}

/// <summary>The operator file's shape (<c>Catalog:File</c>): entries in the <see cref="ModelPrice"/> shape, snake_case.</summary>
public sealed record PriceCatalogFile
{
    public required string Version { get; init; }
    public string Currency { get; init; } = "USD";
    public string? Notes { get; init; }
    public required IReadOnlyList<ModelPrice> Models { get; init; }
}

/// <summary>How a name seen in traffic resolved, for <c>apex catalog show</c> and the catalog tests.</summary>
public sealed record CatalogResolution
{
    public required string Name { get; init; }
    public required ModelPrice Price { get; init; }

    /// <summary>The steps that led to the entry, in order (provider prefix, Bedrock id, rule, fallback).</summary>
    public required IReadOnlyList<string> Steps { get; init; }

    /// <summary>genai-prices provider and model that priced it; null for operator-only entries.</summary>
    public string? GenAiProvider { get; init; }
    public string? GenAiProviderName { get; init; }
    public string? GenAiModel { get; init; }
    public string? GenAiModelName { get; init; }

    /// <summary>The match clause that matched, e.g. <c>starts_with "claude-3-5-sonnet"</c>.</summary>
    public string? Rule { get; init; }

    /// <summary>Which dated or time-of-day price is in force and what else exists.</summary>
    public string? PriceNote { get; init; }
    public bool Deprecated { get; init; }

    /// <summary>True when the entry is a recommendation candidate (in <see cref="PriceCatalog.Models"/>).</summary>
    public bool Candidate { get; init; }

    /// <summary>Where an operator changed it: the file or the configuration key; null when built in.</summary>
    public string? Override { get; init; }
}

/// <summary>
/// The price catalog. Prices come from the embedded genai-prices database (its match rules resolve
/// any name seen in traffic); Apex's overlay (Catalog/overlay.json) adds the quality tier, reasoning
/// flag, batch discount and successor of the models recommendations may pick (<see cref="Models"/>);
/// operators replace or add entries with <c>Catalog:File</c> and <c>Catalog:Models:&lt;id&gt;:...</c>.
/// </summary>
public sealed partial class PriceCatalog
{
    /// <summary>Distinct names remembered by <see cref="Find"/>; a dataset with more names is resolved without caching the rest.</summary>
    private const int CacheLimit = 100_000;

    private const string GenAiSource = "https://github.com/pydantic/genai-prices";

    /// <summary>Providers that resell other providers' models: searched last when a name has no provider prefix.</summary>
    private static readonly string[] Resellers = ["openrouter", "huggingface_"];

    private readonly GenAiPriceData? _data;
    private readonly CatalogOverlay? _overlay;
    private readonly DateOnly _today;
    private readonly string _dataDate = "";

    /// <summary>Names (ids, aliases) of overlay and operator entries; operator entries win.</summary>
    private readonly Dictionary<string, ModelPrice> _byName = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Overlay (or operator-replaced) entries by genai-prices provider and model.</summary>
    private readonly Dictionary<(string Provider, string Model), ModelPrice> _byGenAi = [];
    private readonly ConcurrentDictionary<(string Provider, string Model), ModelPrice> _derived = new();
    private readonly ConcurrentDictionary<string, CatalogResolution?> _cache = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, string> _overrideSource = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<ModelPrice> _candidates = new(ReferenceEqualityComparer.Instance);

    /// <summary>A catalog of exactly these entries (no genai-prices data): tests and <c>Catalog:ReplaceBuiltIn</c>.</summary>
    public PriceCatalog(string version, IReadOnlyList<ModelPrice> models)
    {
        Version = version;
        Models = models;
        foreach (var model in models)
        {
            AddNames(model);
            _candidates.Add(model);
        }
    }

    private PriceCatalog(GenAiPriceData data, CatalogOverlay overlay, DateOnly today, PriceCatalogFile? file, string? fileName, CatalogOptions options)
    {
        _data = data;
        _overlay = overlay;
        _today = today;
        _dataDate = overlay.GenAiPrices.Date;
        var models = new List<ModelPrice>();
        var fileIds = new HashSet<string>(file?.Models.Select(m => m.Id) ?? [], StringComparer.OrdinalIgnoreCase);
        foreach (var o in overlay.Models)
        {
            var provider = data.ById[o.Provider];
            var genai = provider.Models.Single(m => m.Id == o.Model);
            var entry = Build(provider, genai, o);
            _byGenAi[(o.Provider, o.Model)] = entry;
            if (fileIds.Contains(o.Id))
            {
                continue;
            }

            AddNames(entry);
            if (o.Successor is null)
            {
                models.Add(entry);
            }
        }

        Models = models;
        Version = $"genai-prices-{overlay.GenAiPrices.Date}+overlay-{overlay.Version}";
        if (file is not null)
        {
            ApplyFile(file, fileName!);
            Version += $"+{file.Version}";
        }

        var overrides = options.Models;
        if (overrides.Count > 0)
        {
            foreach (var (key, value) in overrides.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                ApplyOverride(key, value);
            }

            Version += "+config";
        }

        foreach (var m in Models)
        {
            _candidates.Add(m);
        }
    }

    public string Version { get; private set; }

    /// <summary>Recommendation candidates: overlay models that are current (no successor), plus operator entries with a tier.</summary>
    public IReadOnlyList<ModelPrice> Models { get; private set; }

    /// <summary>Which genai-prices snapshot prices this catalog, e.g. "genai-prices 47df840 of 2026-08-21"; null without one.</summary>
    public string? DataSource => _overlay is null ? null : $"genai-prices {_overlay.GenAiPrices.Commit[..7]} of {_overlay.GenAiPrices.Date} ({_overlay.GenAiPrices.Source}, MIT)";

    /// <summary>The genai-prices data behind this catalog; null for a catalog of explicit entries.</summary>
    public GenAiPriceData? Data => _data;

    public static PriceCatalog LoadBuiltIn() => Load(new CatalogOptions());

    /// <summary>The built-in recommendation candidates as a file (version and entries).</summary>
    public static PriceCatalogFile ReadBuiltIn()
    {
        var catalog = LoadBuiltIn();
        return new PriceCatalogFile { Version = catalog.Version, Models = catalog.Models };
    }

    public static PriceCatalog FromFile(PriceCatalogFile file) => new(file.Version, file.Models);

    /// <summary>The built-in catalog with the operator's file and configuration applied (see <see cref="CatalogOptions"/>).</summary>
    public static PriceCatalog Load(CatalogOptions options) => Load(options, DateOnly.FromDateTime(DateTime.UtcNow));

    /// <summary>As <see cref="Load(CatalogOptions)"/>, with dated prices chosen as in force on <paramref name="today"/>.</summary>
    public static PriceCatalog Load(CatalogOptions options, DateOnly today)
    {
        var problems = CatalogOptionsValidator.OverrideProblems(options);
        if (problems.Count > 0)
        {
            throw new InvalidOperationException(string.Join("; ", problems));
        }

        var file = string.IsNullOrWhiteSpace(options.File) ? null : ReadOperatorFile(options.File);
        if (file is not null && options.ReplaceBuiltIn)
        {
            return new PriceCatalog($"{file.Version}", file.Models);
        }

        return new PriceCatalog(SharedData.Value, SharedOverlay.Value, today, file, options.File, options);
    }

    /// <summary>Reads and validates the operator's file; the message names <c>Catalog:File</c>.</summary>
    public static PriceCatalogFile ReadOperatorFile(string path)
    {
        PriceCatalogFile file;
        try
        {
            using var stream = System.IO.File.OpenRead(path);
            file = JsonSerializer.Deserialize<PriceCatalogFile>(stream, ApexJson.Options)
                ?? throw new InvalidOperationException($"Catalog:File '{path}' is empty.");
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"Catalog:File '{path}' cannot be read: {e.Message}", e);
        }

        var problems = Validate(file.Models);
        if (problems.Count > 0)
        {
            throw new InvalidOperationException($"Catalog:File '{path}' is invalid: {string.Join("; ", problems)}");
        }

        return file;
    }

    private static readonly Lazy<GenAiPriceData> SharedData = new(GenAiPriceData.LoadEmbedded);
    private static readonly Lazy<CatalogOverlay> SharedOverlay = new(CatalogOverlay.LoadEmbedded);

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
            if (m.CacheWritePerMillion is <= 0) problems.Add($"{id}: cache_write_per_million must be > 0 when given");
            if (m.BatchDiscount is < 0 or >= 1) problems.Add($"{id}: batch_discount must be in [0, 1)");
            if (m.ContextWindow <= 0) problems.Add($"{id}: context_window must be > 0");
            if (m.QualityTier is < 1 or > 3) problems.Add($"{id}: quality_tier must be 1, 2 or 3");
            if (!DateOnly.TryParseExact(m.PriceDate, "yyyy-MM-dd", out _)) problems.Add($"{id}: price_date must be yyyy-MM-dd");
            if (!Uri.TryCreate(m.Source, UriKind.Absolute, out var source) || source.Scheme != Uri.UriSchemeHttps)
                problems.Add($"{id}: source must be an https URL");
            if (m.Tiers.Zip(m.Tiers.Skip(1)).Any(p => p.First.StartTokens >= p.Second.StartTokens) || m.Tiers.Any(t => t.StartTokens <= 0))
                problems.Add($"{id}: tiers must have increasing start_tokens > 0");
        }

        return problems;
    }

    /// <summary>
    /// The entry pricing a model name as seen in traffic (<c>gpt-4o-2024-08-06</c>,
    /// <c>anthropic/claude-3.5-sonnet</c>, <c>us.anthropic.claude-3-5-sonnet-20241022-v2:0</c>,
    /// <c>models/gemini-2.5-pro</c>), or null when no rule matches: an unknown name is never guessed.
    /// </summary>
    public ModelPrice? Find(string? model) => Explain(model)?.Price;

    /// <summary>As <see cref="Find"/>, with how the name resolved.</summary>
    public CatalogResolution? Explain(string? model)
    {
        if (string.IsNullOrWhiteSpace(model))
        {
            return null;
        }

        var name = model.Trim();
        if (_cache.TryGetValue(name, out var cached))
        {
            return cached;
        }

        var resolved = Resolve(name);
        if (_cache.Count < CacheLimit)
        {
            _cache.TryAdd(name, resolved);
        }

        return resolved;
    }

    /// <summary>Every name a model is known by, longest first, for finding model names in free text.</summary>
    public IEnumerable<(string Name, ModelPrice Model)> Names() =>
        _byName.Select(kv => (kv.Key, kv.Value)).OrderByDescending(kv => kv.Key.Length).ThenBy(kv => kv.Key, StringComparer.Ordinal);

    /// <summary>Every entry: the candidates, then each genai-prices model Apex can price (optionally of one provider).</summary>
    public IEnumerable<CatalogResolution> Entries(string? provider = null)
    {
        var seen = new HashSet<ModelPrice>(ReferenceEqualityComparer.Instance);
        foreach (var m in Models.Where(m => provider is null || string.Equals(m.Provider, provider, StringComparison.OrdinalIgnoreCase)))
        {
            seen.Add(m);
            yield return Explain(m.Id) ?? Describe(m, [$"entry '{m.Id}'"]);
        }

        if (_data is null)
        {
            yield break;
        }

        foreach (var p in _data.Providers.Where(p => provider is null || string.Equals(p.Id, provider, StringComparison.OrdinalIgnoreCase)))
        {
            foreach (var g in p.Models)
            {
                var r = FromGenAi(p, g, null, g.Id, [$"genai-prices model {p.Id}/{g.Id}"]);
                if (r is not null && seen.Add(r.Price))
                {
                    yield return r;
                }
            }
        }
    }

    private void AddNames(ModelPrice model)
    {
        _byName[model.Id] = model;
        foreach (var alias in model.Aliases)
        {
            _byName[alias] = model;
        }
    }

    private CatalogResolution Describe(ModelPrice m, List<string> steps) => new()
    {
        Name = m.Id,
        Price = m,
        Steps = steps,
        Candidate = _candidates.Contains(m),
        Override = _overrideSource.GetValueOrDefault(m.Id),
    };

    private CatalogResolution? Resolve(string name)
    {
        if (_byName.TryGetValue(name, out var named))
        {
            var key = _byGenAi.FirstOrDefault(kv => ReferenceEquals(kv.Value, named)).Key;
            if (_data is not null && key.Provider is not null)
            {
                var p = _data.ById[key.Provider];
                var g = p.Models.Single(m => m.Id == key.Model);
                if (FromGenAi(p, g, g.Match.Hit(name), name, [$"'{name}' is an Apex catalog name of {named.Id}"]) is { } viaName)
                {
                    return viaName with { Name = name };
                }
            }

            return Describe(named, [$"'{name}' is an operator catalog name of {named.Id}"]) with { Name = name };
        }

        if (_data is not null && ResolveGenAi(name, name.ToLowerInvariant(), []) is { } found)
        {
            return found with { Name = name };
        }

        // Last: operator-only entries named with a provider prefix or a date suffix.
        var slash = name.LastIndexOf('/');
        var bare = slash >= 0 && slash < name.Length - 1 ? name[(slash + 1)..] : name;
        if (_byName.TryGetValue(bare, out named) && (_data is null || !_byGenAi.ContainsValue(named)))
        {
            return Describe(named, [$"provider prefix '{name[..(slash + 1)]}' dropped", $"'{bare}' is a catalog name of {named.Id}"]) with { Name = name };
        }

        var undated = DateSuffix().Replace(bare, string.Empty);
        if (undated.Length != bare.Length && _byName.TryGetValue(undated, out named) && (_data is null || !_byGenAi.ContainsValue(named)))
        {
            return Describe(named, [$"date suffix dropped: '{undated}'", $"'{undated}' is a catalog name of {named.Id}"]) with { Name = name };
        }

        return null;
    }

    private CatalogResolution? ResolveGenAi(string original, string lower, List<string> steps)
    {
        var data = _data!;

        // Bedrock ids: [region.]vendor.model[-vN:M]; AWS bills them, so its own entries come first.
        var bedrock = BedrockId().Match(lower);
        if (bedrock.Success)
        {
            var vendor = bedrock.Groups["vendor"].Value;
            var model = bedrock.Groups["model"].Value;
            var region = bedrock.Groups["region"].Success ? $"region '{bedrock.Groups["region"].Value}', " : "";
            var s = new List<string>(steps) { $"Bedrock model id ({region}vendor '{vendor}')" };
            if (data.ById.TryGetValue("aws", out var aws) && aws.FindModel(lower) is var (am, ac))
            {
                return FromGenAi(aws, am, ac, lower, s);
            }

            var stripped = BedrockVersion().Replace(model, "");
            s.Add($"no AWS entry: looked up '{stripped}' at the model's own provider");
            if (ProviderByHint(vendor) is { } origin && FindWithFallback(origin, stripped, s) is { } viaOrigin)
            {
                return viaOrigin;
            }

            return Generic(stripped, s);
        }

        var slash = lower.IndexOf('/');
        if (slash > 0 && slash < lower.Length - 1)
        {
            var hint = lower[..slash];
            var rest = lower[(slash + 1)..];
            if (ProviderByHint(hint) is { } p)
            {
                var s = new List<string>(steps) { $"provider prefix '{hint}/' names provider {p.Id}" };
                if ((FindWithFallback(p, lower, s) ?? FindWithFallback(p, rest, s)) is { } hit)
                {
                    return hit;
                }

                return ResolveGenAi(original, rest, [.. s, $"{p.Id} has no such model: looked up '{rest}'"]);
            }

            // Names such as accounts/fireworks/models/... or meta-llama/llama-3-70b are whole model ids.
            return Generic(lower, steps) ?? ResolveGenAi(original, rest, [.. steps, $"'{hint}/' names no provider: looked up '{rest}'"]);
        }

        if (Generic(lower, steps) is { } direct)
        {
            return direct;
        }

        var undated = DateSuffix().Replace(lower, string.Empty);
        return undated.Length != lower.Length ? Generic(undated, [.. steps, $"date suffix dropped: '{undated}'"]) : null;
    }

    /// <summary>A name without a provider: the origin provider (whose model_match claims it) first, then any provider with a matching model.</summary>
    private CatalogResolution? Generic(string name, List<string> steps)
    {
        var data = _data!;
        foreach (var p in data.Providers)
        {
            if (p.ModelMatch?.Hit(name) is { } claim)
            {
                var s = new List<string>(steps) { $"provider {p.Id} claims the name ({claim.Describe()})" };
                if (FindWithFallback(p, name, s) is { } hit)
                {
                    return hit;
                }
            }
        }

        // Model makers (providers with a model_match) before hosts, resellers last; data order within each.
        foreach (var p in data.Providers.OrderBy(p => Resellers.Any(r => p.Id.StartsWith(r, StringComparison.Ordinal)) ? 2 : p.ModelMatch is null ? 1 : 0))
        {
            if (p.FindModel(name) is var (m, c))
            {
                return FromGenAi(p, m, c, name, [.. steps, $"no origin provider claims it; first provider with a matching model: {p.Id}"]);
            }
        }

        return null;
    }

    private CatalogResolution? FindWithFallback(GenAiProvider p, string name, List<string> steps)
    {
        if (p.FindModel(name) is var (m, c))
        {
            return FromGenAi(p, m, c, name, steps);
        }

        foreach (var f in p.Fallbacks)
        {
            if (_data!.ById.TryGetValue(f, out var fp) && fp.FindModel(name) is var (fm, fc))
            {
                return FromGenAi(fp, fm, fc, name, [.. steps, $"{p.Id} has no such model; its fallback provider {fp.Id} has"]);
            }
        }

        return null;
    }

    private GenAiProvider? ProviderByHint(string hint)
    {
        var data = _data!;
        var normal = hint.Replace('_', '-');
        return data.Providers.FirstOrDefault(p => string.Equals(p.Id.Replace('_', '-'), normal, StringComparison.OrdinalIgnoreCase))
            ?? data.Providers.FirstOrDefault(p => p.ProviderMatch?.IsMatch(hint) == true);
    }

    private CatalogResolution? FromGenAi(GenAiProvider p, GenAiModel g, MatchRule? clause, string name, List<string> steps)
    {
        var (price, note) = g.PriceOn(_today);
        if (!price.Prices.PricesText)
        {
            return null;
        }

        var entry = _byGenAi.TryGetValue((p.Id, g.Id), out var overlay) ? overlay
            : _byName.TryGetValue(g.Id, out var named) && _overrideSource.ContainsKey(named.Id) ? named // an operator entry named like the genai-prices model
            : _derived.GetOrAdd((p.Id, g.Id), _ => Build(p, g, null));
        var s = new List<string>(steps);
        if (clause is not null)
        {
            s.Add($"model {p.Id}/{g.Id} matches by {clause.Describe()}");
        }

        return new CatalogResolution
        {
            Name = name,
            Price = entry,
            Steps = s,
            GenAiProvider = p.Id,
            GenAiProviderName = p.Name,
            GenAiModel = g.Id,
            GenAiModelName = g.Name,
            Rule = clause?.Describe(),
            PriceNote = note,
            Deprecated = g.Deprecated,
            Candidate = _candidates.Contains(entry),
            Override = _overrideSource.GetValueOrDefault(entry.Id),
        };
    }

    /// <summary>The entry for a genai-prices model: prices in force today, overlay attributes when it has (or inherits) an overlay.</summary>
    private ModelPrice Build(GenAiProvider p, GenAiModel g, OverlayModel? o)
    {
        var (c, _) = g.PriceOn(_today);
        var prices = c.Prices;
        var input = prices.Input?.Base ?? 0;
        var inherited = o is null ? Origin(p, g) : null;
        var tierStarts = new[] { prices.Input, prices.Output, prices.CacheRead, prices.CacheWrite }
            .Where(v => v is not null).SelectMany(v => v!.Tiers.Select(t => t.Start)).Distinct().Order().ToList();
        return new ModelPrice
        {
            Id = o?.Id ?? g.Id,
            Provider = p.Id,
            Aliases = o?.Aliases ?? [],
            InputPerMillion = input,
            OutputPerMillion = prices.Output?.Base ?? 0,
            CachedInputPerMillion = prices.CacheRead?.Base ?? input,
            CacheWritePerMillion = prices.CacheWrite?.Base,
            Tiers = [.. tierStarts.Select(start => new PriceTier
            {
                StartTokens = start,
                InputPerMillion = prices.Input?.At(start + 1) ?? 0,
                OutputPerMillion = prices.Output?.At(start + 1) ?? 0,
                CachedInputPerMillion = (prices.CacheRead ?? prices.Input)?.At(start + 1) ?? 0,
                CacheWritePerMillion = prices.CacheWrite?.At(start + 1),
            })],
            RequestsPerThousand = prices.RequestsPerThousand ?? 0,
            Reasoning = o?.Reasoning ?? inherited?.Reasoning ?? false,
            Successor = o is null ? inherited?.Successor : o.Successor,
            BatchDiscount = o?.BatchDiscount ?? (_overlay!.ProviderBatchDiscount.TryGetValue(p.Id, out var b) ? b : 0),
            ContextWindow = g.ContextWindow > 0 ? g.ContextWindow : o?.ContextWindow ?? inherited?.ContextWindow ?? 0,
            QualityTier = o?.QualityTier ?? inherited?.QualityTier ?? 0,
            PriceDate = c.StartDate is { } start2 ? start2.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) : _dataDate,
            Source = p.PricingUrl ?? GenAiSource,
        };
    }

    /// <summary>
    /// The overlay entry of the same model at its origin provider, for a reseller's copy (AWS, Google,
    /// OpenRouter, Azure): the copy inherits quality tier, reasoning flag and successor, not prices.
    /// </summary>
    private ModelPrice? Origin(GenAiProvider p, GenAiModel g)
    {
        var id = g.Id.ToLowerInvariant();
        var bedrock = BedrockId().Match(id);
        if (bedrock.Success)
        {
            id = BedrockVersion().Replace(bedrock.Groups["model"].Value, "");
        }

        id = id[(id.LastIndexOf('/') + 1)..];
        foreach (var origin in _data!.Providers)
        {
            if (origin != p && origin.ModelMatch?.IsMatch(id) == true && origin.FindModel(id) is var (m, _)
                && _byGenAi.TryGetValue((origin.Id, m.Id), out var entry))
            {
                return entry;
            }
        }

        return null;
    }

    private void ApplyFile(PriceCatalogFile file, string fileName)
    {
        var models = Models.ToList();
        foreach (var entry in file.Models)
        {
            var replaced = models.FindIndex(m => string.Equals(m.Id, entry.Id, StringComparison.OrdinalIgnoreCase));
            if (replaced >= 0)
            {
                models[replaced] = entry;
            }
            else
            {
                models.Add(entry);
            }

            foreach (var key in _byGenAi.Where(kv => string.Equals(kv.Value.Id, entry.Id, StringComparison.OrdinalIgnoreCase)).Select(kv => kv.Key).ToList())
            {
                _byGenAi[key] = entry;
            }

            AddNames(entry);
            _overrideSource[entry.Id] = $"Catalog:File '{fileName}' (version {file.Version})";
        }

        Models = models;
    }

    private void ApplyOverride(string key, CatalogModelOverride o)
    {
        var source = $"configuration Catalog:Models:{key}";
        var existing = Explain(key)?.Price;
        ModelPrice entry;
        if (existing is null)
        {
            if (o.Provider is null || o.InputPerMillion is null || o.OutputPerMillion is null)
            {
                throw new InvalidOperationException(
                    $"Catalog:Models:{key}: '{key}' is no known model, so Catalog:Models:{key}:Provider, :InputPerMillion and :OutputPerMillion are required to add it.");
            }

            entry = new ModelPrice
            {
                Id = key,
                Provider = o.Provider!,
                InputPerMillion = o.InputPerMillion!.Value,
                OutputPerMillion = o.OutputPerMillion!.Value,
                CachedInputPerMillion = o.CachedInputPerMillion ?? o.InputPerMillion!.Value,
                CacheWritePerMillion = o.CacheWritePerMillion,
                BatchDiscount = o.BatchDiscount ?? 0,
                ContextWindow = o.ContextWindow ?? 0,
                QualityTier = o.QualityTier ?? 0,
                Reasoning = o.Reasoning ?? false,
                Successor = o.Successor,
                PriceDate = _today.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                Source = source,
            };
        }
        else
        {
            // A changed token price replaces the long-prompt tiers, which were the list price's.
            var priced = o.InputPerMillion is not null || o.OutputPerMillion is not null || o.CachedInputPerMillion is not null || o.CacheWritePerMillion is not null;
            entry = existing with
            {
                Provider = o.Provider ?? existing.Provider,
                InputPerMillion = o.InputPerMillion ?? existing.InputPerMillion,
                OutputPerMillion = o.OutputPerMillion ?? existing.OutputPerMillion,
                CachedInputPerMillion = o.CachedInputPerMillion ?? Math.Min(existing.CachedInputPerMillion, o.InputPerMillion ?? existing.InputPerMillion),
                CacheWritePerMillion = o.CacheWritePerMillion ?? existing.CacheWritePerMillion,
                Tiers = priced ? [] : existing.Tiers,
                BatchDiscount = o.BatchDiscount ?? existing.BatchDiscount,
                ContextWindow = o.ContextWindow ?? existing.ContextWindow,
                QualityTier = o.QualityTier ?? existing.QualityTier,
                Reasoning = o.Reasoning ?? existing.Reasoning,
                Successor = o.Successor ?? existing.Successor,
                Source = source,
            };
        }

        var models = Models.ToList();
        var index = existing is null ? -1 : models.FindIndex(m => ReferenceEquals(m, existing));
        if (index >= 0)
        {
            models[index] = entry;
        }
        else if (entry.QualityTier > 0 && entry.Successor is null)
        {
            models.Add(entry);
        }

        Models = models;
        if (existing is not null)
        {
            foreach (var k in _byGenAi.Where(kv => ReferenceEquals(kv.Value, existing)).Select(kv => kv.Key).ToList())
            {
                _byGenAi[k] = entry;
            }

            foreach (var k in _derived.Where(kv => ReferenceEquals(kv.Value, existing)).Select(kv => kv.Key).ToList())
            {
                _byGenAi[k] = entry;
            }

            foreach (var n in _byName.Where(kv => ReferenceEquals(kv.Value, existing)).Select(kv => kv.Key).ToList())
            {
                _byName[n] = entry;
            }
        }

        _byName[key] = entry;
        _overrideSource[entry.Id] = source;
        _cache.Clear();
    }

    [GeneratedRegex(@"-(\d{4}-\d{2}-\d{2}|\d{8})$")]
    private static partial Regex DateSuffix();

    [GeneratedRegex(@"^(?:(?<region>us|eu|apac|ap|jp|au|ca|global|regional|us-gov)\.)?(?<vendor>anthropic|amazon|meta|mistral|cohere|ai21|deepseek|openai|qwen|writer|twelvelabs|stability|moonshot|moonshotai|minimax|google|nvidia)\.(?<model>[a-z0-9].*)$")]
    private static partial Regex BedrockId();

    [GeneratedRegex(@"-v\d+(?::\d+)?$|:\d+$")]
    private static partial Regex BedrockVersion();
}
