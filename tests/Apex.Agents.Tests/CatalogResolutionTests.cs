using Apex.Agents.Analysis;
using Apex.Agents.Catalog;
using Apex.Agents.Data;

namespace Apex.Agents.Tests;

/// <summary>Names as they appear in traffic resolve to the genai-prices entry and price of data.json, and nothing else.</summary>
public sealed class CatalogResolutionTests
{
    private static readonly DateOnly Today = new(2026, 12, 2);
    private static readonly PriceCatalog Catalog = PriceCatalog.Load(new CatalogOptions(), Today);

    [Fact(Timeout = 30_000)]
    public async Task Every_shape_of_the_genai_prices_file_is_handled_or_deliberately_ignored()
    {
        await Task.Yield();
        var data = GenAiPriceData.LoadEmbedded();
        Assert.Empty(data.Unhandled);
        Assert.Equal(34, data.Providers.Count);
        Assert.Equal(1442, data.Providers.Sum(p => p.Models.Count));
        Assert.True(Catalog.Entries().Count() > 1300);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("us.anthropic.claude-3-5-sonnet-20241022-v2:0", "aws", "regional.anthropic.claude-3-5-sonnet-20241022-v2:0", 3.0, 15.0, 0.3, 3.75)]
    [InlineData("anthropic/claude-3.5-sonnet", "anthropic", "claude-3-5-sonnet", 3.0, 15.0, 0.3, 3.75)]
    [InlineData("global.anthropic.claude-sonnet-5-v1:0", "aws", "global.anthropic.claude-sonnet-5-v1:0", 3.0, 15.0, 0.3, 3.75)]
    [InlineData("eu.anthropic.claude-sonnet-5-v1:0", "aws", "regional.anthropic.claude-sonnet-5-v1:0", 3.3, 16.5, 0.33, 4.125)]
    [InlineData("claude-3-5-sonnet-20241022", "anthropic", "claude-3-5-sonnet", 3.0, 15.0, 0.3, 3.75)]
    [InlineData("gpt-4o-2024-08-06", "openai", "gpt-4o", 2.5, 10.0, 1.25, null)]
    [InlineData("openai/gpt-4o", "openai", "gpt-4o", 2.5, 10.0, 1.25, null)]
    [InlineData("gpt-4o", "openai", "gpt-4o", 2.5, 10.0, 1.25, null)]
    [InlineData("amazon.nova-pro-v1:0", "aws", "amazon.nova-pro-v1:0", 0.8, 3.2, 0.2, null)]
    [InlineData("us.amazon.nova-lite-v1:0", "aws", "amazon.nova-lite-v1:0", 0.06, 0.24, 0.015, null)]
    [InlineData("models/gemini-2.5-pro", "google", "gemini-2.5-pro", 1.25, 10.0, 0.125, null)]
    [InlineData("azure/o4-mini", "azure", "o4-mini", 1.1, 4.4, 0.28, null)]
    [InlineData("azure/gpt-4o", "openai", "gpt-4o", 2.5, 10.0, 1.25, null)]
    [InlineData("gpt-35-turbo", "openai", "gpt-3.5-turbo", 0.5, 1.5, 0.5, null)]
    [InlineData("text-embedding-3-small", "openai", "text-embedding-3-small", 0.02, 0.0, 0.02, null)]
    // OpenRouter lists no cache prices for it: reads bill as input, writes as input.
    [InlineData("openrouter/anthropic/claude-3.5-sonnet", "openrouter", "anthropic/claude-3.5-sonnet", 3.0, 15.0, 3.0, null)]
    [InlineData("claude-haiku-4-5-20251001", "anthropic", "claude-haiku-4-5", 1.0, 5.0, 0.1, 1.25)]
    public async Task Names_seen_in_traffic_resolve_with_the_prices_of_data_json(
        string name, string provider, string genaiModel, double input, double output, double cacheRead, double? cacheWrite)
    {
        await Task.Yield();
        var r = Catalog.Explain(name);
        Assert.NotNull(r);
        Assert.Equal(provider, r.GenAiProvider);
        Assert.Equal(genaiModel, r.GenAiModel);
        Assert.Equal(provider, r.Price.Provider);
        Assert.Equal((decimal)input, r.Price.InputPerMillion);
        Assert.Equal((decimal)output, r.Price.OutputPerMillion);
        Assert.Equal((decimal)cacheRead, r.Price.CachedInputPerMillion);
        Assert.Equal(cacheWrite is null ? null : (decimal)cacheWrite.Value, r.Price.CacheWritePerMillion);
        Assert.Same(r.Price, Catalog.Find(name));
        Assert.NotEmpty(r.Steps);
    }

    [Fact(Timeout = 30_000)]
    public async Task An_azure_deployment_is_priced_by_the_model_name_the_import_passes()
    {
        await Task.Yield();
        // Azure usage carries a deployment name ("prod-chat") and the model it serves; the import passes the model.
        Assert.Null(Catalog.Find("prod-chat"));
        Assert.Same(Catalog.Find("gpt-4o"), Catalog.Find("gpt-4o-2024-11-20"));
        Assert.Equal("gpt-4o-mini", Catalog.Find("gpt-4o-mini-2024-07-18")!.Id);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("gpt-4o-mini", "gpt-4o-mini")]
    [InlineData("gpt-4o-mini-2024-07-18", "gpt-4o-mini")]
    [InlineData("claude-3-5-haiku", "claude-3-5-haiku")]
    [InlineData("claude-3-5-haiku-20241022", "claude-3-5-haiku")]
    [InlineData("anthropic/claude-3.5-haiku", "claude-3-5-haiku")]
    [InlineData("gpt-4.1-mini", "gpt-4.1-mini")]
    [InlineData("gpt-5-nano", "gpt-5-nano")]
    [InlineData("claude-sonnet-4-5-20250929", "claude-sonnet-4-5")]
    [InlineData("claude-sonnet-4-20250514", "claude-sonnet-4")]
    [InlineData("gemini-2.5-flash-lite", "gemini-2.5-flash-lite")]
    [InlineData("gpt-3.5-turbo-1106", "gpt-3.5-turbo-1106")]
    public async Task Close_names_never_resolve_to_a_sibling(string name, string id)
    {
        await Task.Yield();
        Assert.Equal(id, Catalog.Find(name)!.Id);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("my-finetune-v2")]
    [InlineData("prod-chat")]
    [InlineData("gpt-4o-2")]
    [InlineData("acme/unknown-model")]
    [InlineData("")]
    [InlineData(null)]
    public async Task Unknown_names_resolve_to_nothing(string? name)
    {
        await Task.Yield();
        Assert.Null(Catalog.Find(name));
        Assert.Null(Catalog.Explain(name));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_tiered_price_is_chosen_from_the_mean_prompt_size()
    {
        await Task.Yield();
        var sonnet = Catalog.Find("claude-sonnet-4-5")!;
        Assert.Equal(3m, sonnet.InputPerMillion);
        var tier = Assert.Single(sonnet.Tiers);
        Assert.Equal(200_000, tier.StartTokens);
        Assert.Equal(6m, tier.InputPerMillion);
        Assert.Equal(22.5m, tier.OutputPerMillion);
        Assert.Equal(0.6m, tier.CachedInputPerMillion);
        Assert.Equal(7.5m, tier.CacheWritePerMillion);

        // One call of 300k prompt tokens: every token at the long-prompt price.
        Assert.Equal((300_000 * 6.0 + 1_000 * 22.5) / 1e6, sonnet.CostOf(300_000, 0, 0, 1_000, 1), 9);
        // Two calls of 150k each: the mean is under 200k, so the base price.
        Assert.Equal((300_000 * 3.0 + 1_000 * 15.0) / 1e6, sonnet.CostOf(300_000, 0, 0, 1_000, 2), 9);
        // Cache reads and writes of a long prompt at their tier prices.
        Assert.Equal((100_000 * 6.0 + 100_000 * 0.6 + 50_000 * 7.5) / 1e6, sonnet.CostOf(250_000, 100_000, 50_000, 0, 1), 9);

        var gemini = Catalog.Find("gemini-2.5-pro-preview-06-05")!;
        Assert.Equal("gemini-2.5-pro", gemini.Id);
        Assert.Equal(2.5m, Assert.Single(gemini.Tiers).InputPerMillion);
    }

    [Fact(Timeout = 30_000)]
    public async Task Cache_writes_bill_at_the_cache_write_price()
    {
        await Task.Yield();
        var sonnet = Catalog.Find("anthropic/claude-3.5-sonnet")!;
        Assert.Equal(3.75m, sonnet.CacheWritePerMillion);
        // 1M prompt tokens: 200k cache reads, 300k cache writes, 500k plain; 100k output.
        var expected = (500_000 * 3.0 + 200_000 * 0.3 + 300_000 * 3.75 + 100_000 * 15.0) / 1e6;
        Assert.Equal(expected, sonnet.CostOf(1_000_000, 200_000, 300_000, 100_000, 10), 9);
        // OpenAI has no cache-write price: writes bill as input.
        var gpt = Catalog.Find("gpt-4o")!;
        Assert.Null(gpt.CacheWritePerMillion);
        Assert.Equal((1_000_000 * 2.5) / 1e6, gpt.CostOf(1_000_000, 0, 300_000, 0, 1), 9);
    }

    [Fact(Timeout = 30_000)]
    public async Task Dated_prices_use_the_price_in_force_and_say_which()
    {
        await Task.Yield();
        var before = PriceCatalog.Load(new CatalogOptions(), new DateOnly(2026, 8, 1));
        Assert.Equal(2m, before.Find("claude-sonnet-5")!.InputPerMillion);
        Assert.Contains("from 2026-09-01", before.Explain("claude-sonnet-5")!.PriceNote, StringComparison.Ordinal);

        var now = Catalog.Explain("claude-sonnet-5")!;
        Assert.Equal(3m, now.Price.InputPerMillion);
        Assert.Equal(15m, now.Price.OutputPerMillion);
        Assert.Equal("2026-09-01", now.Price.PriceDate);
        Assert.Contains("since 2026-09-01", now.PriceNote, StringComparison.Ordinal);

        Assert.Equal(2m, Catalog.Find("o3")!.InputPerMillion);
        Assert.Equal(8m, Catalog.Find("o3")!.OutputPerMillion);

        // DeepSeek's standard-hours price (a time-of-day window) is the list price, not the off-peak one.
        var deepseek = Catalog.Explain("deepseek-chat")!;
        Assert.Equal(0.27m, deepseek.Price.InputPerMillion);
        Assert.Contains("time-of-day", deepseek.PriceNote, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_per_request_fee_is_part_of_the_cost()
    {
        await Task.Yield();
        var sonar = Catalog.Find("sonar")!;
        Assert.Equal("perplexity", sonar.Provider);
        Assert.Equal(12m, sonar.RequestsPerThousand);
        Assert.Equal((1_000_000 * 1.0 + 1_000_000 * 1.0) / 1e6 + 500 * 12 / 1000.0, sonar.CostOf(1_000_000, 0, 0, 1_000_000, 500), 9);
    }

    [Fact(Timeout = 30_000)]
    public async Task The_overlay_adds_tier_reasoning_batch_discount_and_successor()
    {
        await Task.Yield();
        var gpt5 = Catalog.Find("gpt-5-2025-08-07")!;
        Assert.Equal(("gpt-5", 3, true, 0.5m), (gpt5.Id, gpt5.QualityTier, gpt5.Reasoning, gpt5.BatchDiscount));
        Assert.True(Catalog.Find("o4-mini")!.Reasoning);
        Assert.True(Catalog.Find("deepseek-reasoner")!.Reasoning);
        Assert.True(Catalog.Find("gemini-2.5-pro")!.Reasoning);
        Assert.False(Catalog.Find("claude-sonnet-4-5")!.Reasoning);
        Assert.False(Catalog.Find("gpt-4.1")!.Reasoning);
        Assert.Equal(0m, Catalog.Find("deepseek-chat")!.BatchDiscount);

        Assert.Equal("gpt-4.1", Catalog.Find("gpt-4-0613")!.Successor);
        Assert.Equal("gpt-4o-mini", Catalog.Find("gpt-3.5-turbo")!.Successor);
        Assert.Equal("gpt-4o", Catalog.Find("gpt-4-turbo-2024-04-09")!.Successor);
        Assert.Equal("claude-haiku-4-5", Catalog.Find("claude-3-haiku-20240307")!.Successor);
        Assert.Equal("claude-sonnet-5", Catalog.Find("claude-3-5-sonnet-20240620")!.Successor);

        // A reseller's copy of an overlay model inherits tier and successor, not prices.
        var bedrock = Catalog.Find("us.anthropic.claude-3-5-sonnet-20241022-v2:0")!;
        Assert.Equal((3, "claude-sonnet-5"), (bedrock.QualityTier, bedrock.Successor));

        // Retired models price traffic but are never swap targets; every successor is a candidate.
        Assert.DoesNotContain(Catalog.Models, m => m.Successor is not null);
        foreach (var successor in Catalog.Models.Concat(Catalog.Entries().Select(e => e.Price)).Select(m => m.Successor).OfType<string>().Distinct())
        {
            Assert.Contains(Catalog.Models, m => m.Id == successor);
        }

        // Any model without an overlay entry has tier 0.
        var other = Catalog.Find("mistral-small-latest");
        Assert.NotNull(other);
        Assert.Equal(0, other.QualityTier);
        Assert.DoesNotContain(other, Catalog.Models);
    }

    [Fact(Timeout = 30_000)]
    public async Task The_candidates_cover_the_former_catalog_and_current_models()
    {
        await Task.Yield();
        string[] expected =
        [
            "gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4o", "gpt-4o-mini", "o3", "o4-mini",
            "claude-sonnet-4-5", "claude-sonnet-4", "claude-haiku-4-5", "claude-opus-4-5", "claude-sonnet-5",
            "gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite", "amazon.nova-pro-v1:0", "amazon.nova-lite-v1:0", "amazon.nova-micro-v1:0",
        ];
        foreach (var id in expected)
        {
            var m = Assert.Single(Catalog.Models, m => m.Id == id);
            Assert.Same(m, Catalog.Find(id));
            Assert.InRange(m.QualityTier, 1, 3);
            Assert.True(m.ContextWindow > 0, id);
        }

        // Retired models of the former catalog still resolve (with their successor).
        foreach (var id in new[] { "gpt-4", "gpt-4-turbo", "gpt-3.5-turbo", "claude-opus-4-1", "claude-opus-4", "claude-3-5-haiku", "gemini-2.0-flash" })
        {
            Assert.NotNull(Catalog.Find(id)!.Successor);
        }

        Assert.StartsWith("genai-prices-2026-08-21+overlay-", Catalog.Version, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Configuration_overrides_change_one_value_and_name_the_key_when_wrong()
    {
        await Task.Yield();
        var options = new CatalogOptions
        {
            Models =
            {
                ["gpt-4o"] = new CatalogModelOverride { InputPerMillion = 2.0m, CachedInputPerMillion = 1.0m },
                ["acme-llm"] = new CatalogModelOverride { Provider = "acme", InputPerMillion = 0.1m, OutputPerMillion = 0.2m, QualityTier = 1, ContextWindow = 32000 },
            },
        };
        var catalog = PriceCatalog.Load(options, Today);
        var gpt = catalog.Explain("gpt-4o-2024-08-06")!;
        Assert.Equal(2.0m, gpt.Price.InputPerMillion);
        Assert.Equal(10m, gpt.Price.OutputPerMillion);
        Assert.Equal("configuration Catalog:Models:gpt-4o", gpt.Override);
        Assert.Same(gpt.Price, Assert.Single(catalog.Models, m => m.Id == "gpt-4o"));
        var acme = catalog.Find("acme-llm")!;
        Assert.Equal(("acme", 0.1m, 0.1m), (acme.Provider, acme.InputPerMillion, acme.CachedInputPerMillion));
        Assert.Contains(acme, catalog.Models);

        var bad = new CatalogOptions { Models = { ["gpt-4o"] = new CatalogModelOverride { InputPerMillion = -1 } } };
        var failure = new CatalogOptionsValidator().Validate(null, bad);
        Assert.True(failure.Failed);
        Assert.Contains("Catalog:Models:gpt-4o:InputPerMillion", failure.FailureMessage, StringComparison.Ordinal);

        var unknown = new CatalogOptions { Models = { ["mystery"] = new CatalogModelOverride { InputPerMillion = 1 } } };
        failure = new CatalogOptionsValidator().Validate(null, unknown);
        Assert.True(failure.Failed);
        Assert.Contains("Catalog:Models:mystery:Provider", failure.FailureMessage, StringComparison.Ordinal);
        Assert.True(new CatalogOptionsValidator().Validate(null, new CatalogOptions()).Succeeded);
    }

    [Fact(Timeout = 30_000)]
    public async Task An_operator_file_entry_replaces_the_overlay_entry_for_every_name_of_it()
    {
        var path = Path.Combine(Path.GetTempPath(), $"apex-catalog-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(path, """
            {"version":"acme-2026-11","models":[
              {"id":"claude-sonnet-4-5","provider":"anthropic","input_per_million":2.4,"output_per_million":12.0,"cached_input_per_million":0.24,"cache_write_per_million":3.0,"batch_discount":0.5,"context_window":200000,"quality_tier":3,"price_date":"2026-11-01","source":"https://example.com/contract"}]}
            """);
        try
        {
            var catalog = PriceCatalog.Load(new CatalogOptions { File = path }, Today);
            var r = catalog.Explain("claude-sonnet-4-5-20250929")!;
            Assert.Equal(2.4m, r.Price.InputPerMillion);
            Assert.Equal(3.0m, r.Price.CacheWritePerMillion);
            Assert.Contains("Catalog:File", r.Override, StringComparison.Ordinal);
            Assert.Same(r.Price, Assert.Single(catalog.Models, m => m.Id == "claude-sonnet-4-5"));
            Assert.Same(r.Price, catalog.Find("anthropic/claude-sonnet-4.5"));
            Assert.EndsWith("+acme-2026-11", catalog.Version, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task A_priced_model_of_unknown_quality_gets_no_switch_and_is_never_a_target()
    {
        await Task.Yield();
        var columns = new UsageColumns();
        foreach (var model in new[] { "mistral-small-latest", "gpt-4o-2024-08-06" })
        {
            for (var i = 0; i < 50; i++)
            {
                columns.Add(new UsageRow
                {
                    TimestampMs = 1_790_000_000_000 + i,
                    Model = model,
                    Feature = "faq",
                    UserTier = "",
                    InputTokens = 2_000,
                    OutputTokens = 300,
                    LatencyMs = 800,
                    CostUsd = Catalog.Find(model)!.CostOf(2_000, 0, 300),
                });
            }
        }

        var analyzer = new UsageAnalyzer(UsageTable.FromColumns(columns, Catalog), Catalog, new AnalysisOptions());
        var groups = analyzer.RecommendModels(allowTierDrop: true, CancellationToken.None).Groups;
        Assert.Empty(Assert.Single(groups, g => g.Model == "mistral-small-latest").Candidates);
        var gpt = Assert.Single(groups, g => g.Model == "gpt-4o");
        Assert.NotEmpty(gpt.Candidates);
        Assert.All(gpt.Candidates, c => Assert.True(c.QualityTier >= 2 && Catalog.Models.Any(m => m.Id == c.Model), c.Model));
        Assert.Equal("openai", gpt.Candidates[0].Provider);
    }

    [Fact(Timeout = 30_000)]
    public async Task An_operator_entry_named_like_a_genai_prices_model_prices_it_under_every_name()
    {
        var path = Path.Combine(Path.GetTempPath(), $"apex-catalog-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(path, """
            {"version":"acme-1","models":[
              {"id":"mistral-small-latest","provider":"mistral","input_per_million":0.05,"output_per_million":0.15,"cached_input_per_million":0.05,"batch_discount":0,"context_window":32000,"quality_tier":1,"price_date":"2026-11-01","source":"https://example.com/contract"}]}
            """);
        try
        {
            var catalog = PriceCatalog.Load(new CatalogOptions { File = path }, Today);
            Assert.Equal(0.05m, catalog.Find("mistral-small-latest")!.InputPerMillion);
            Assert.Equal(0.05m, catalog.Find("mistral/mistral-small-latest")!.InputPerMillion);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
