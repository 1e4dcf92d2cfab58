using Apex.Testing;
using System.Diagnostics;

namespace Apex.Server.Tests;

/// <summary><c>apex catalog</c> run as a real process, as an operator runs it.</summary>
public sealed class CatalogCommandTests
{

    [Fact(Timeout = 60_000)]
    public async Task Show_explains_a_bedrock_id()
    {
        var (code, stdout, stderr) = await RunAsync("catalog", "show", "us.anthropic.claude-3-5-sonnet-20241022-v2:0");
        Assert.True(code == 0, stderr);
        Assert.Contains("entry         regional.anthropic.claude-3-5-sonnet-20241022-v2:0 (provider aws)", stdout, StringComparison.Ordinal);
        Assert.Contains("Bedrock model id (region 'us', vendor 'anthropic')", stdout, StringComparison.Ordinal);
        Assert.Contains("rule          contains \"claude-3-5-sonnet-20241022\"", stdout, StringComparison.Ordinal);
        Assert.Contains("input $3.00, output $15.00, cache read $0.30, cache write $3.75", stdout, StringComparison.Ordinal);
        Assert.Contains("quality tier  3 (frontier)", stdout, StringComparison.Ordinal);
        Assert.Contains("successor     claude-sonnet-5", stdout, StringComparison.Ordinal);
        Assert.Contains("https://aws.amazon.com/bedrock/pricing/", stdout, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Show_explains_an_openrouter_style_name_by_its_provider_prefix()
    {
        var (code, stdout, stderr) = await RunAsync("catalog", "show", "anthropic/claude-3.5-sonnet");
        Assert.True(code == 0, stderr);
        Assert.Contains("entry         claude-3-5-sonnet (provider anthropic)", stdout, StringComparison.Ordinal);
        Assert.Contains("provider prefix 'anthropic/' names provider anthropic", stdout, StringComparison.Ordinal);
        Assert.Contains("rule          starts_with \"claude-3.5-sonnet\"", stdout, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Show_prints_tiers_and_dated_prices()
    {
        var (code, stdout, stderr) = await RunAsync("catalog", "show", "models/gemini-2.5-pro");
        Assert.True(code == 0, stderr);
        Assert.Contains("entry         gemini-2.5-pro (provider google)", stdout, StringComparison.Ordinal);
        Assert.Contains("prompts over 200,000 tokens: input $2.50, output $15.00", stdout, StringComparison.Ordinal);
        Assert.Contains("reasoning     yes", stdout, StringComparison.Ordinal);

        (code, stdout, stderr) = await RunAsync("catalog", "show", "gpt-4o-2024-08-06");
        Assert.True(code == 0, stderr);
        Assert.Contains("entry         gpt-4o (provider openai)", stdout, StringComparison.Ordinal);
        Assert.Contains("rule          equals \"gpt-4o-2024-08-06\"", stdout, StringComparison.Ordinal);
        Assert.Contains("cache write billed as input", stdout, StringComparison.Ordinal);

        (code, stdout, stderr) = await RunAsync("catalog", "show", "claude-sonnet-5");
        Assert.True(code == 0, stderr);
        Assert.Contains("price in force since 2026-09-01", stdout, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Show_applies_a_configuration_override_and_names_a_wrong_key()
    {
        var (code, stdout, stderr) = await RunAsync("catalog", "show", "gpt-4o", "--Catalog:Models:gpt-4o:InputPerMillion=2");
        Assert.True(code == 0, stderr);
        Assert.Contains("input $2.00, output $10.00", stdout, StringComparison.Ordinal);
        Assert.Contains("override      configuration Catalog:Models:gpt-4o", stdout, StringComparison.Ordinal);

        (code, _, stderr) = await RunAsync("catalog", "show", "gpt-4o", "--Catalog:Models:gpt-4o:InputPerMillion=-2");
        Assert.Equal(1, code);
        Assert.Contains("Catalog:Models:gpt-4o:InputPerMillion", stderr, StringComparison.Ordinal);

        (code, _, stderr) = await RunAsync("check-config", "--Catalog:Models:gpt-4o:BatchDiscount=1.5");
        Assert.Equal(1, code);
        Assert.Contains("Catalog:Models:gpt-4o:BatchDiscount", stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Show_of_an_unknown_name_says_so_and_fails()
    {
        var (code, stdout, stderr) = await RunAsync("catalog", "show", "my-finetune-v2");
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.Contains("no catalog entry matches 'my-finetune-v2'", stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task List_filters_by_provider_and_candidates()
    {
        var (code, stdout, stderr) = await RunAsync("catalog", "list", "--provider", "aws", "--candidates");
        Assert.True(code == 0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("id\tprovider\tinput\toutput\tcache read\tcache write\ttier\treasoning\tsuccessor", lines[0]);
        Assert.Contains("amazon.nova-pro-v1:0\taws\t$0.80\t$3.20\t$0.20\t-\t2\tno\t", lines);
        Assert.All(lines.Skip(1), l => Assert.Equal("aws", l.Split('\t')[1]));
        Assert.Equal(4, lines.Length - 1);

        (code, stdout, stderr) = await RunAsync("catalog", "list", "--provider", "openai");
        Assert.True(code == 0, stderr);
        lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length > 50, stdout);
        Assert.Contains(lines, l => l.StartsWith("gpt-4-32k\topenai\t$60.00\t$120.00\t", StringComparison.Ordinal));

        (code, _, stderr) = await RunAsync("catalog", "list", "--provider", "nobody");
        Assert.Equal(1, code);
        Assert.Contains("no catalog entry of provider 'nobody'", stderr, StringComparison.Ordinal);
    }

    private static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args) =>
        ApexProcess.RunAsync([.. args, $"--Apex:DataDir={Directory.CreateTempSubdirectory("apex-cli-").FullName}"]);
}
