using System.Text.Json;
using Apex.Contracts;

namespace Apex.Agents.Catalog;

/// <summary>Apex's overlay on genai-prices (Catalog/overlay.json): what recommendations need that the price data lacks.</summary>
public sealed record CatalogOverlay
{
    public required string Version { get; init; }
    [System.Text.Json.Serialization.JsonPropertyName("genai_prices")]
    public required GenAiPricesVersion GenAiPrices { get; init; }
    public string? Notes { get; init; }
    public Dictionary<string, decimal> ProviderBatchDiscount { get; init; } = [];
    public required IReadOnlyList<OverlayModel> Models { get; init; }

    public static CatalogOverlay LoadEmbedded()
    {
        using var stream = typeof(CatalogOverlay).Assembly.GetManifestResourceStream("Apex.Agents.Catalog.overlay.json")
            ?? throw new InvalidOperationException("The embedded catalog overlay is missing.");
        return JsonSerializer.Deserialize<CatalogOverlay>(stream, ApexJson.Options)
            ?? throw new InvalidOperationException("The embedded catalog overlay is empty.");
    }
}

/// <summary>Which genai-prices snapshot the embedded data.json is.</summary>
public sealed record GenAiPricesVersion
{
    public required string Commit { get; init; }
    public required string Date { get; init; }
    public required string Source { get; init; }
}

/// <summary>One recommendation candidate (or, with a successor, a retired model kept for its tier and replacement).</summary>
public sealed record OverlayModel
{
    /// <summary>The id Apex shows and recommendations name.</summary>
    public required string Id { get; init; }

    /// <summary>genai-prices provider id.</summary>
    public required string Provider { get; init; }

    /// <summary>genai-prices model id within the provider.</summary>
    public required string Model { get; init; }
    public IReadOnlyList<string> Aliases { get; init; } = [];
    public required int QualityTier { get; init; }
    public bool Reasoning { get; init; }
    public decimal? BatchDiscount { get; init; }
    public int? ContextWindow { get; init; }
    public string? Successor { get; init; }
}
