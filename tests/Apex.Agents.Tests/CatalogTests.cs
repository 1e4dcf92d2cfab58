using Apex.Agents.Catalog;

namespace Apex.Agents.Tests;

public sealed class CatalogTests
{
    [Fact(Timeout = 30_000)]
    public async Task Every_built_in_entry_is_complete()
    {
        await Task.Yield();
        var file = PriceCatalog.ReadBuiltIn();
        Assert.False(string.IsNullOrWhiteSpace(file.Version));
        Assert.True(file.Models.Count >= 10);
        Assert.Empty(PriceCatalog.Validate(file.Models));
        foreach (var m in file.Models)
        {
            Assert.False(string.IsNullOrWhiteSpace(m.Id));
            Assert.False(string.IsNullOrWhiteSpace(m.Provider));
            Assert.True(m.InputPerMillion > 0, m.Id);
            Assert.True(m.OutputPerMillion > 0, m.Id);
            Assert.InRange(m.CachedInputPerMillion, 0.000001m, m.InputPerMillion);
            Assert.InRange(m.BatchDiscount, 0m, 0.99m);
            Assert.True(m.ContextWindow > 0, m.Id);
            Assert.InRange(m.QualityTier, 1, 3);
            Assert.Matches(@"^\d{4}-\d{2}-\d{2}$", m.PriceDate);
            Assert.StartsWith("https://", m.Source, StringComparison.Ordinal);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Validation_names_each_incomplete_field()
    {
        await Task.Yield();
        var broken = new ModelPrice
        {
            Id = "x", Provider = "", InputPerMillion = 0, OutputPerMillion = 1, CachedInputPerMillion = 2, BatchDiscount = 1,
            ContextWindow = 0, QualityTier = 4, PriceDate = "yesterday", Source = "http://insecure",
        };
        var problems = PriceCatalog.Validate([broken]);
        foreach (var field in new[] { "provider", "input_per_million", "cached_input_per_million", "batch_discount", "context_window", "quality_tier", "price_date", "source" })
        {
            Assert.Contains(problems, p => p.Contains(field, StringComparison.Ordinal));
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Finds_models_by_alias_provider_prefix_and_date_suffix()
    {
        await Task.Yield();
        var catalog = PriceCatalog.LoadBuiltIn();
        Assert.Equal("gpt-4o", catalog.Find("GPT-4o")!.Id);
        Assert.Equal("gpt-4o", catalog.Find("gpt-4o-2024-05-13")!.Id);
        Assert.Equal("gpt-4o-mini", catalog.Find("openai/gpt-4o-mini")!.Id);
        Assert.Equal("claude-sonnet-4", catalog.Find("claude-sonnet-4-20250514")!.Id);
        Assert.Null(catalog.Find("my-finetune-v2"));
    }

    [Fact(Timeout = 30_000)]
    public async Task An_operator_file_overrides_and_extends_the_built_in_prices()
    {
        var path = Path.Combine(Path.GetTempPath(), $"apex-catalog-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(path, """
            {"version":"acme-2026-11","models":[
              {"id":"gpt-4o","provider":"openai","input_per_million":2.0,"output_per_million":8.0,"cached_input_per_million":1.0,"batch_discount":0.5,"context_window":128000,"quality_tier":3,"price_date":"2026-11-01","source":"https://example.com/contract"},
              {"id":"acme-llm","provider":"acme","input_per_million":0.1,"output_per_million":0.2,"cached_input_per_million":0.05,"batch_discount":0,"context_window":32000,"quality_tier":1,"price_date":"2026-11-01","source":"https://example.com/acme"}]}
            """);
        try
        {
            var catalog = PriceCatalog.Load(new CatalogOptions { File = path });
            Assert.Equal(2.0m, catalog.Find("gpt-4o")!.InputPerMillion);
            Assert.NotNull(catalog.Find("acme-llm"));
            Assert.NotNull(catalog.Find("claude-sonnet-4"));
            Assert.Contains("acme-2026-11", catalog.Version, StringComparison.Ordinal);

            await File.WriteAllTextAsync(path, """{"version":"bad","models":[{"id":"x","provider":"p","input_per_million":-1,"output_per_million":1,"cached_input_per_million":1,"batch_discount":0,"context_window":1,"quality_tier":1,"price_date":"2026-11-01","source":"https://e.com"}]}""");
            var error = Assert.Throws<InvalidOperationException>(() => PriceCatalog.Load(new CatalogOptions { File = path }));
            Assert.Contains("Catalog:File", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
