using Microsoft.Extensions.Options;

namespace Apex.Agents.Catalog;

/// <summary>
/// Section <c>Catalog</c>. <c>Catalog:File</c> names a JSON file of entries in the
/// <see cref="ModelPrice"/> shape (see <see cref="PriceCatalogFile"/>) that replace entries of the same
/// id or add new ones, so an operator can apply negotiated prices or add a self-hosted model without a
/// new release. <c>Catalog:Models:&lt;name&gt;:&lt;Field&gt;</c> changes single values of the entry the
/// name resolves to (or adds an entry when it resolves to none).
/// </summary>
public sealed class CatalogOptions
{
    public const string Section = "Catalog";

    public string? File { get; set; }

    /// <summary>When true the file replaces the built-in catalog instead of extending it.</summary>
    public bool ReplaceBuiltIn { get; set; }

    /// <summary>Single overrides by model name, e.g. <c>Catalog:Models:gpt-4o:InputPerMillion=2.0</c>.</summary>
    public Dictionary<string, CatalogModelOverride> Models { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>Values of one <c>Catalog:Models:&lt;name&gt;</c> override; unset values keep the built-in ones.</summary>
public sealed class CatalogModelOverride
{
    public string? Provider { get; set; }
    public decimal? InputPerMillion { get; set; }
    public decimal? OutputPerMillion { get; set; }
    public decimal? CachedInputPerMillion { get; set; }
    public decimal? CacheWritePerMillion { get; set; }
    public decimal? BatchDiscount { get; set; }
    public int? ContextWindow { get; set; }
    public int? QualityTier { get; set; }
    public bool? Reasoning { get; set; }
    public string? Successor { get; set; }
}

/// <summary>Validates the <c>Catalog</c> section at start by loading the catalog it describes; errors name the key.</summary>
public sealed class CatalogOptionsValidator : IValidateOptions<CatalogOptions>
{
    public ValidateOptionsResult Validate(string? name, CatalogOptions options)
    {
        var problems = OverrideProblems(options);
        if (problems.Count > 0)
        {
            return ValidateOptionsResult.Fail(problems);
        }

        try
        {
            PriceCatalog.Load(options);
            return ValidateOptionsResult.Success;
        }
        catch (InvalidOperationException e)
        {
            return ValidateOptionsResult.Fail(e.Message);
        }
    }

    /// <summary>Out-of-range values of <c>Catalog:Models</c>, each naming its key.</summary>
    public static List<string> OverrideProblems(CatalogOptions options)
    {
        var problems = new List<string>();
        foreach (var (id, o) in options.Models)
        {
            var key = $"{CatalogOptions.Section}:Models:{id}";
            if (string.IsNullOrWhiteSpace(id)) problems.Add($"{key}: the model name is empty");
            if (o.Provider is not null && string.IsNullOrWhiteSpace(o.Provider)) problems.Add($"{key}:Provider must not be empty");
            if (o.InputPerMillion is <= 0) problems.Add($"{key}:InputPerMillion must be > 0");
            if (o.OutputPerMillion is < 0) problems.Add($"{key}:OutputPerMillion must be >= 0");
            if (o.CachedInputPerMillion is < 0) problems.Add($"{key}:CachedInputPerMillion must be >= 0");
            if (o.CachedInputPerMillion is { } cached && o.InputPerMillion is { } input && cached > input)
                problems.Add($"{key}:CachedInputPerMillion must be <= InputPerMillion");
            if (o.CacheWritePerMillion is <= 0) problems.Add($"{key}:CacheWritePerMillion must be > 0");
            if (o.BatchDiscount is < 0 or >= 1) problems.Add($"{key}:BatchDiscount must be in [0, 1)");
            if (o.ContextWindow is < 0) problems.Add($"{key}:ContextWindow must be >= 0");
            if (o.QualityTier is < 0 or > 3) problems.Add($"{key}:QualityTier must be 0, 1, 2 or 3");
            if (o.Successor is not null && string.IsNullOrWhiteSpace(o.Successor)) problems.Add($"{key}:Successor must not be empty");
            if (o.Provider is null && o.InputPerMillion is null && o.OutputPerMillion is null && o.CachedInputPerMillion is null && o.CacheWritePerMillion is null
                && o.BatchDiscount is null && o.ContextWindow is null && o.QualityTier is null && o.Reasoning is null && o.Successor is null)
                problems.Add($"{key}: no value given (e.g. {key}:InputPerMillion)");
        }

        return problems;
    }
}
