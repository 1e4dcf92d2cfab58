using System.CommandLine;
using System.Globalization;
using Apex.Agents.Catalog;
using Spectre.Console;

namespace Apex.Server.Commands;

/// <summary><c>apex catalog show MODEL</c> and <c>apex catalog list</c>: how the configured price catalog prices a name.</summary>
internal static class CatalogCommand
{
    public static Command Create()
    {
        var command = new Command("catalog", "Show how the price catalog resolves and prices model names.");
        command.Subcommands.Add(Show());
        command.Subcommands.Add(List());
        return command;
    }

    private static Command Show()
    {
        var model = new Argument<string>("model") { Description = "A model name as it appears in usage data, e.g. us.anthropic.claude-3-5-sonnet-20241022-v2:0." };
        var command = new Command("show", "Print the entry and prices a model name resolves to, and why.") { model };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (result, ct) =>
        {
            var catalog = await LoadAsync(result);
            if (catalog is null)
            {
                return 1;
            }

            var name = result.GetValue(model)!;
            var r = catalog.Explain(name);
            if (r is null)
            {
                Console.Error.WriteLine($"no catalog entry matches '{name}': usage of it stays unpriced and is listed in the report's warnings.");
                Console.Error.WriteLine($"Add it with Catalog:File or Catalog:Models:{name}:Provider, :InputPerMillion and :OutputPerMillion.");
                return 1;
            }

            foreach (var (label, value) in Describe(r, catalog))
            {
                Console.WriteLine($"{label,-13} {value}");
            }

            return 0;
        });
        return command;
    }

    private static Command List()
    {
        var provider = new Option<string?>("--provider") { Description = "Only entries of this provider (genai-prices id, e.g. openai, anthropic, aws)." };
        var candidates = new Option<bool>("--candidates") { Description = "Only recommendation candidates (models with an Apex overlay entry)." };
        var command = new Command("list", "List catalog entries with their prices (USD per million tokens).") { provider, candidates };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (result, ct) =>
        {
            var catalog = await LoadAsync(result);
            if (catalog is null)
            {
                return 1;
            }

            var only = result.GetValue(provider);
            var entries = result.GetValue(candidates)
                ? catalog.Models.Where(m => only is null || string.Equals(m.Provider, only, StringComparison.OrdinalIgnoreCase)).Select(m => catalog.Explain(m.Id)!).ToList()
                : catalog.Entries(only).ToList();
            if (entries.Count == 0)
            {
                Console.Error.WriteLine(only is null ? "the catalog has no entries" : $"no catalog entry of provider '{only}'");
                return 1;
            }

            string[] header = ["id", "provider", "input", "output", "cache read", "cache write", "tier", "reasoning", "successor"];
            static string[] Row(CatalogResolution r) =>
            [
                r.Price.Id, r.Price.Provider, Money(r.Price.InputPerMillion), Money(r.Price.OutputPerMillion), Money(r.Price.CachedInputPerMillion),
                r.Price.CacheWritePerMillion is { } w ? Money(w) : "-", r.Price.QualityTier == 0 ? "-" : r.Price.QualityTier.ToString(CultureInfo.InvariantCulture),
                r.Price.Reasoning ? "yes" : "no", r.Price.Successor ?? "",
            ];
            if (Console.IsOutputRedirected)
            {
                Console.WriteLine(string.Join('\t', header));
                foreach (var r in entries)
                {
                    Console.WriteLine(string.Join('\t', Row(r)));
                }

                return 0;
            }

            var table = new Table().AddColumns(header);
            foreach (var r in entries)
            {
                table.AddRow([.. Row(r).Select(Markup.Escape)]);
            }

            AnsiConsole.Write(table);
            Console.WriteLine($"{entries.Count} entries; catalog {catalog.Version}");
            return 0;
        });
        return command;
    }

    /// <summary>The catalog as <c>apex serve</c> would load it: same configuration sources and validation.</summary>
    private static async Task<PriceCatalog?> LoadAsync(ParseResult result)
    {
        try
        {
            // Host warnings (e.g. about the web app's files) would mix with the printed entry; errors still show.
            await using var app = ApexHost.Build(["--Logging:LogLevel:Default=Error", .. result.UnmatchedTokens]);
            return app.Services.GetRequiredService<PriceCatalog>();
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine($"invalid: {e.Message}");
            return null;
        }
    }

    private static IEnumerable<(string Label, string Value)> Describe(CatalogResolution r, PriceCatalog catalog)
    {
        var p = r.Price;
        yield return ("name", r.Name);
        yield return ("entry", $"{p.Id} (provider {p.Provider})");
        if (r.GenAiModel is not null)
        {
            yield return ("genai-prices", $"{r.GenAiProvider}/{r.GenAiModel}" + (r.GenAiModelName is null ? "" : $" \"{r.GenAiModelName}\"") + $" at provider {r.GenAiProviderName}" + (r.Deprecated ? " (deprecated)" : ""));
        }

        yield return ("rule", r.Rule ?? "exact catalog name");
        for (var i = 0; i < r.Steps.Count; i++)
        {
            yield return (i == 0 ? "why" : "", $"{i + 1}. {r.Steps[i]}");
        }

        yield return ("prices", $"input {Money(p.InputPerMillion)}, output {Money(p.OutputPerMillion)}, cache read {Money(p.CachedInputPerMillion)}, cache write "
            + (p.CacheWritePerMillion is { } w ? Money(w) : "billed as input") + " (USD per million tokens)");
        foreach (var t in p.Tiers)
        {
            yield return ("tier", $"prompts over {t.StartTokens.ToString("N0", CultureInfo.InvariantCulture)} tokens: input {Money(t.InputPerMillion)}, output {Money(t.OutputPerMillion)}, "
                + $"cache read {Money(t.CachedInputPerMillion)}, cache write " + (t.CacheWritePerMillion is { } tw ? Money(tw) : "billed as input"));
        }

        if (p.RequestsPerThousand > 0)
        {
            yield return ("requests", $"{Money(p.RequestsPerThousand)} per thousand requests");
        }

        yield return ("price date", p.PriceDate + (r.PriceNote is null ? "" : $"; {r.PriceNote}"));
        yield return ("source", p.Source);
        if (r.GenAiModel is not null && r.Override is null && catalog.DataSource is not null)
        {
            yield return ("data", catalog.DataSource);
        }
        var tier = p.QualityTier switch { 1 => "1 (small)", 2 => "2 (mid-size)", 3 => "3 (frontier)", _ => "unknown (not in Apex's overlay: never suggested as a switch)" };
        yield return ("quality tier", tier);
        yield return ("reasoning", p.Reasoning ? "yes: reasoning tokens bill as output" : "no");
        yield return ("batch", p.BatchDiscount > 0 ? $"{p.BatchDiscount * 100:0.#}% off with the batch API" : "no batch discount known");
        yield return ("context", p.ContextWindow > 0 ? $"{p.ContextWindow.ToString("N0", CultureInfo.InvariantCulture)} tokens" : "unknown");
        yield return ("successor", p.Successor ?? "none (current)");
        yield return ("candidate", r.Candidate ? "yes: recommendations may pick it" : "no");
        if (r.Override is not null)
        {
            yield return ("override", r.Override);
        }

        yield return ("catalog", catalog.Version);
    }

    private static string Money(decimal perMillion) => "$" + perMillion.ToString("0.00####", CultureInfo.InvariantCulture);
}
