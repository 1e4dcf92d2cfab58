using System.Text;
using System.Text.Json;
using Apex.Agents.Analysis;
using Apex.Agents.Catalog;
using Apex.Agents.Planning;
using Apex.Agents.Reports;
using Apex.Agents.Runtime;
using Apex.Contracts;

namespace Apex.Agents.Tests;

/// <summary>
/// A small dataset whose every figure is computed by hand below, on a test catalog of three models:
/// big-4 (tier 3), think-3 (tier 3, a reasoning model, cheaper per token) and small-2 (tier 2).
/// </summary>
internal static class HandData
{
    // Per call at big-4 ($10 in, $30 out per million): support-chat 1000 in + 500 out = $0.025,
    // faq-bot 2000 + 100 = $0.023, report-gen 4000 + 1000 = $0.07. Two days, so month = 15 x period.
    public const string Csv =
        "timestamp,model,input_tokens,output_tokens,latency_ms,feature,prompt_hash,status\n" +
        "2026-11-01T02:00:00Z,big-4,4000,1000,9000,report-gen,r1,ok\n" +
        "2026-11-01T10:00:00Z,big-4,1000,500,1000,support-chat,s1,ok\n" +
        "2026-11-01T10:00:00Z,big-4,2000,100,500,faq-bot,f1,ok\n" +
        "2026-11-01T10:30:00Z,big-4,2000,100,400,faq-bot,f1,ok\n" +
        "2026-11-01T11:00:00Z,big-4,1000,500,1200,support-chat,s2,ok\n" +
        "2026-11-01T12:00:00Z,big-4,1000,500,1400,support-chat,s3,ok\n" +
        "2026-11-01T13:00:00Z,big-4,1000,500,1600,support-chat,s4,ok\n" +
        "2026-11-02T02:00:00Z,big-4,4000,1000,9000,report-gen,r2,ok\n" +
        "2026-11-02T10:00:00Z,big-4,1000,500,1000,support-chat,s5,ok\n" +
        "2026-11-02T10:00:00Z,big-4,2000,100,500,faq-bot,f2,ok\n" +
        "2026-11-02T10:30:00Z,big-4,2000,100,400,faq-bot,f2,ok\n" +
        "2026-11-02T11:00:00Z,big-4,1000,500,1200,support-chat,s6,ok\n" +
        "2026-11-02T12:00:00Z,big-4,1000,500,1400,support-chat,s7,ok\n" +
        "2026-11-02T13:00:00Z,big-4,1000,500,30000,support-chat,s8,error\n";

    public static PriceCatalog Catalog() => new("test",
    [
        Model("big-4", 10m, 30m, 5m, tier: 3, reasoning: false),
        Model("think-3", 2m, 10m, 1m, tier: 3, reasoning: true),
        Model("small-2", 0.5m, 2m, 0.25m, tier: 2, reasoning: false),
        Model("old-1", 20m, 40m, 20m, tier: 3, reasoning: false) with { Successor = "big-4" },
    ]);

    private static ModelPrice Model(string id, decimal input, decimal output, decimal cached, int tier, bool reasoning) => new()
    {
        Id = id, Provider = "testco", InputPerMillion = input, OutputPerMillion = output, CachedInputPerMillion = cached, BatchDiscount = 0.5m,
        ContextWindow = 128_000, QualityTier = tier, Reasoning = reasoning, PriceDate = "2026-11-01", Source = "https://example.com/prices",
    };

    public static UsageAnalyzer Analyzer(string csv = Csv)
    {
        var catalog = Catalog();
        var data = new InMemoryUsageDataSource();
        var parsed = TestSupport.ParseCsv(csv, catalog);
        var id = data.Add("usr_a", parsed);
        var table = UsageTable.LoadAsync(data, "usr_a", id, parsed.Rows, catalog, CancellationToken.None).GetAwaiter().GetResult();
        return new UsageAnalyzer(table, catalog, new AnalysisOptions());
    }
}

public sealed class FollowUpParserTests
{
    private static readonly PriceCatalog Catalog = HandData.Catalog();

    private static readonly FollowUpVocabulary Vocabulary = new()
    {
        Recommendations =
        [
            Rec("cache-exact-repeats", "caching", "Cache exact repeated prompts of faq-bot"),
            Rec("fix-failed-calls", "waste", "Stop paying for failed calls of support-chat"),
            Rec("switch-model-big-4-to-think-3", "model", "Move support-chat, report-gen, faq-bot from big-4 to think-3"),
            Rec("enable-prompt-caching", "caching", "Use provider prompt caching for long prompts of report-gen"),
            Rec("use-batch-api", "batching", "Move report-gen to the batch API"),
        ],
        Features = ["support-chat", "faq-bot", "report-gen"],
        Models = ["big-4"],
        LastDay = "2026-11-14",
        HasReport = true,
    };

    private static Recommendation Rec(string id, string category, string title) => new()
    {
        Id = id, Category = category, Title = title, MonthlySavingsUsd = 1, Effort = "low", Risk = "low", Confidence = "high", Rationale = "", Steps = [],
    };

    private static FollowUp Parse(string text) => FollowUpParser.Parse(text, Vocabulary, Catalog) ?? throw new Xunit.Sdk.XunitException($"not recognised: {text}");

    [Theory(Timeout = 10_000)]
    [InlineData("What if we only did the caching change?", new[] { "cache-exact-repeats", "enable-prompt-caching" })]
    [InlineData("What would we save if we only did the caching change?", new[] { "cache-exact-repeats", "enable-prompt-caching" })]
    [InlineData("only 1 and 3", new[] { "cache-exact-repeats", "switch-model-big-4-to-think-3" })]
    [InlineData("What if we just did recommendations 2, 5?", new[] { "fix-failed-calls", "use-batch-api" })]
    [InlineData("What if we only did the model switch?", new[] { "switch-model-big-4-to-think-3" })]
    [InlineData("What would the batch API alone save?", new[] { "use-batch-api" })]
    [InlineData("What if we only did prompt caching?", new[] { "enable-prompt-caching" })]
    [InlineData("what if we only did the first one", new[] { "cache-exact-repeats" })]
    public async Task What_if_resolves_ordinals_and_names_against_the_last_report(string text, string[] ids)
    {
        await Task.Yield();
        var f = Parse(text);
        Assert.Equal(FollowUpKind.WhatIf, f.Kind);
        Assert.Equal(ids, f.RecommendationIds);
        Assert.Equal("what_if", f.Tool);
    }

    [Theory(Timeout = 10_000)]
    [InlineData("What would we save if we only did the caching change?", "caching", FollowUpKind.WhatIf)]
    [InlineData("What if we only did prompt caching?", "enable-prompt-caching", FollowUpKind.WhatIf)]
    [InlineData("Why is there no batch API change?", "use-batch-api", FollowUpKind.ExplainRecommendation)]
    [InlineData("What if we only did recommendation 4?", "#4", FollowUpKind.WhatIf)]
    [InlineData("only 3", "#3", FollowUpKind.WhatIf)]
    [InlineData("Explain the second recommendation", "#2", FollowUpKind.ExplainRecommendation)]
    public async Task A_change_the_plan_lacks_is_a_follow_up_that_says_so(string text, string absent, FollowUpKind kind)
    {
        await Task.Yield();
        var oneSwitch = Vocabulary with { Recommendations = [Rec("switch-model-big-4-to-think-3", "model", "Move support-chat from big-4 to think-3")] };
        var f = FollowUpParser.Parse(text, oneSwitch, Catalog) ?? throw new Xunit.Sdk.XunitException($"not recognised: {text}");
        Assert.Equal(kind, f.Kind);
        Assert.Equal(absent, f.AbsentChange);
        Assert.Empty(f.RecommendationIds);

        // The same words about a change the plan has resolve to it; with no report yet they start an analysis.
        Assert.Null(Parse(text.Replace("4", "1", StringComparison.Ordinal).Replace("3", "1", StringComparison.Ordinal).Replace("second", "first", StringComparison.Ordinal)).AbsentChange);
        Assert.Null(FollowUpParser.Parse(text, oneSwitch with { HasReport = false, Recommendations = [] }, Catalog));
    }

    [Theory(Timeout = 10_000)]
    [InlineData("Why did you recommend think-3 for support-chat? Isn't think-3 a reasoning model?", "switch-model-big-4-to-think-3")]
    [InlineData("explain recommendation 3", "switch-model-big-4-to-think-3")]
    [InlineData("Why the caching of exact repeats?", "cache-exact-repeats")]
    [InlineData("Explain the second recommendation", "fix-failed-calls")]
    public async Task Explain_resolves_one_recommendation(string text, string id)
    {
        await Task.Yield();
        var f = Parse(text);
        Assert.Equal(FollowUpKind.ExplainRecommendation, f.Kind);
        Assert.Equal([id], f.RecommendationIds);
    }

    [Theory(Timeout = 10_000)]
    [InlineData("What if we switched everything to small-2?", null)]
    [InlineData("What would it cost if all our traffic went to think-3?", null)]
    [InlineData("What if faq-bot used small-2?", "faq-bot")]
    public async Task A_what_if_on_a_model_the_plan_does_not_move_that_traffic_to_compares_it(string text, string? feature)
    {
        await Task.Yield();
        var f = Parse(text);
        Assert.Equal(FollowUpKind.CompareModels, f.Kind);
        Assert.Equal(feature, f.Feature);
        Assert.Single(f.Models);

        // The plan's own switch stays a what-if.
        Assert.Equal(FollowUpKind.WhatIf, Parse("What if we only did the switch to think-3?").Kind);
    }

    [Theory(Timeout = 10_000)]
    [InlineData("Which model costs us the most?", null, null, "model", null, null)]
    [InlineData("Which features cost the most?", null, null, "feature", null, null)]
    [InlineData("How much do we spend on faq-bot?", "faq-bot", null, null, null, null)]
    [InlineData("What's our most expensive feature?", "support-chat", null, null, null, null)]
    [InlineData("How much did big-4 cost us?", null, "big-4", null, null, null)]
    [InlineData("How much did we spend last week?", null, null, null, "2026-11-08", "2026-11-14")]
    [InlineData("Where does the money go?", null, null, null, null, null)]
    public async Task Spend_questions_get_a_breakdown_not_a_new_report(string text, string? feature, string? model, string? ranking, string? from, string? to)
    {
        await Task.Yield();
        var f = Parse(text);
        Assert.Equal(FollowUpKind.CostBreakdown, f.Kind);
        Assert.Equal("cost_breakdown", f.Tool);
        Assert.Equal((feature, model, ranking, from, to), (f.Feature, f.Model, f.Ranking, f.From, f.To));
    }

    [Theory(Timeout = 10_000)]
    [InlineData("How much do we spend on chatbot?", "chatbot")]
    [InlineData("How much does billing-assistant cost?", "billing-assistant")]
    [InlineData("How much did we spend last week?", null)]
    [InlineData("Where does the money go?", null)]
    [InlineData("How much do we spend on faq-bot?", null)]
    public async Task A_spend_question_about_a_name_the_data_lacks_says_so(string text, string? unmatched)
    {
        await Task.Yield();
        var f = Parse(text);
        Assert.Equal(FollowUpKind.CostBreakdown, f.Kind);
        Assert.Equal(unmatched, f.UnmatchedName);
        if (unmatched is not null)
        {
            var all = CostBreakdown.Compute(HandData.Analyzer(), HandData.Catalog(), new AnalysisOptions(), null, null, null, null, null, CancellationToken.None);
            var answer = FollowUpWriter.Breakdown(all with { UnmatchedName = f.UnmatchedName, KnownFeatures = f.KnownFeatures });
            Assert.StartsWith($"No feature or model in this data is called \"{unmatched}\", so this is all traffic (its features: support-chat, faq-bot, report-gen).", answer, StringComparison.Ordinal);
        }
    }

    [Fact(Timeout = 10_000)]
    public async Task The_cost_of_a_model_the_data_does_not_use_is_a_comparison()
    {
        await Task.Yield();
        var f = Parse("What would small-2 cost us?");
        Assert.Equal(FollowUpKind.CompareModels, f.Kind);
        Assert.Equal(["small-2"], f.Models);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_why_question_about_a_model_no_recommendation_uses_compares_it()
    {
        await Task.Yield();
        var f = Parse("Why not small-2 for faq-bot?");
        Assert.Equal(FollowUpKind.CompareModels, f.Kind);
        Assert.Equal(["small-2"], f.Models);
        Assert.Equal("faq-bot", f.Feature);
    }

    [Theory(Timeout = 10_000)]
    [InlineData("Show me the daily cost trend for faq-bot", "day", "faq-bot", null, null, null)]
    [InlineData("Show me the daily cost trend for the most expensive feature", "day", "support-chat", null, null, null)]
    [InlineData("hourly cost of big-4 since 2026-11-10", "hour", null, "big-4", "2026-11-10", null)]
    [InlineData("Show the daily cost trend between 2026-11-03 and 2026-11-01", "day", null, null, "2026-11-01", "2026-11-03")]
    [InlineData("cost trend for report-gen last week", "day", "report-gen", null, "2026-11-08", "2026-11-14")]
    [InlineData("daily spend over the last 3 days", "day", null, null, "2026-11-12", "2026-11-14")]
    public async Task Cost_trend_takes_scope_granularity_and_range(string text, string granularity, string? feature, string? model, string? from, string? to)
    {
        await Task.Yield();
        var f = Parse(text);
        Assert.Equal(FollowUpKind.CostTrend, f.Kind);
        Assert.Equal(granularity, f.Granularity);
        Assert.Equal(feature, f.Feature);
        Assert.Equal(model, f.Model);
        Assert.Equal(from, f.From);
        Assert.Equal(to, f.To);
    }

    [Theory(Timeout = 10_000)]
    [InlineData("Show me the daily cost trend for chatbot", "chatbot")]
    [InlineData("daily cost trend of our costliest feature", null)]
    [InlineData("daily cost of the feature 'billing-assistant' please", "billing-assistant")]
    [InlineData("Show me the daily cost trend for faq-bot", null)]
    [InlineData("daily trend for the last week", null)]
    [InlineData("hourly cost for 2026-11-01", null)]
    [InlineData("the daily trend of all traffic", null)]
    public async Task A_trend_for_a_name_the_data_lacks_says_so(string text, string? unmatched)
    {
        await Task.Yield();
        var f = Parse(text);
        Assert.Equal(FollowUpKind.CostTrend, f.Kind);
        Assert.Equal(unmatched, f.UnmatchedName);
        if (unmatched is not null)
        {
            Assert.Null(f.Feature);
            Assert.Equal(["faq-bot", "report-gen", "support-chat"], f.KnownFeatures.Order(StringComparer.Ordinal));
            var a = HandData.Analyzer();
            var all = CostTrend.Trend(a.Table, HandData.Catalog(), false, null, null, null, null, CancellationToken.None);
            var trend = all with { UnmatchedName = f.UnmatchedName, KnownFeatures = f.KnownFeatures };
            var answer = FollowUpWriter.Trend(trend);
            Assert.StartsWith($"No feature or model in this data is called \"{unmatched}\", so this is the trend of all traffic.", answer, StringComparison.Ordinal);
            Assert.Contains("faq-bot", answer, StringComparison.Ordinal);
            Assert.Contains("Daily cost of all traffic", answer, StringComparison.Ordinal);
        }
    }

    [Fact(Timeout = 10_000)]
    public async Task Filters_exclude_or_keep_features_models_and_dates()
    {
        await Task.Yield();
        var exclude = Parse("Exclude report-gen");
        Assert.Equal(FollowUpKind.Filter, exclude.Kind);
        Assert.Equal(["report-gen"], exclude.Filter!.ExcludeFeatures);
        Assert.Null(exclude.Tool);

        var only = Parse("only big-4 traffic");
        Assert.Equal(["big-4"], only.Filter!.OnlyModels);
        Assert.Empty(only.Filter.ExcludeModels);

        var week = Parse("last week only");
        Assert.Equal(("2026-11-08", "2026-11-14"), (week.Filter!.From, week.Filter.To));

        var since = Parse("since 2026-11-03");
        Assert.Equal(("2026-11-03", (string?)null), (since.Filter!.From, since.Filter.To));
    }

    [Fact(Timeout = 10_000)]
    public async Task Compare_and_latency_questions()
    {
        await Task.Yield();
        var compare = Parse("Compare small-2 and think-3 for faq-bot");
        Assert.Equal(FollowUpKind.CompareModels, compare.Kind);
        Assert.Equal(["small-2", "think-3"], compare.Models.Order().ToArray());
        Assert.Equal("faq-bot", compare.Feature);

        Assert.Equal(FollowUpKind.Latency, Parse("Why is our p95 latency 4 s?").Kind);
    }

    [Theory(Timeout = 10_000)]
    [InlineData("Analyse the usage file I uploaded and give me a 4-week plan.")]
    [InlineData("Which of our features would lose the least quality if moved to a smaller model?")]
    [InlineData("Hello")]
    public async Task Full_analysis_requests_are_not_follow_ups(string text)
    {
        await Task.Yield();
        Assert.Null(FollowUpParser.Parse(text, Vocabulary, Catalog));
    }

    [Fact(Timeout = 10_000)]
    public async Task Latency_without_a_report_is_a_full_analysis()
    {
        await Task.Yield();
        Assert.Null(FollowUpParser.Parse("Why is our p95 latency 4 s?", Vocabulary with { HasReport = false, Recommendations = [] }, Catalog));
    }
}

public sealed class FollowUpToolTests
{
    private const double Month = 15; // 30 days / 2 days of data

    private static decimal Cents(double v) => Math.Round((decimal)v, 2, MidpointRounding.AwayFromZero);

    [Fact(Timeout = 10_000)]
    public async Task Daily_trend_splits_each_day_by_model_and_feature()
    {
        await Task.Yield();
        var a = HandData.Analyzer();
        var all = CostTrend.Trend(a.Table, HandData.Catalog(), false, null, null, null, null, CancellationToken.None);
        Assert.Equal(["2026-11-01", "2026-11-02"], all.Points.Select(p => p.Date));
        // 4 x 0.025 + 2 x 0.023 + 0.07 = 0.216 a day, 7 calls.
        Assert.All(all.Points, p => Assert.Equal((7L, 0.22m), (p.Calls, p.CostUsd)));
        Assert.Equal(0.22m, all.Points[0].ByModel["big-4"]);
        Assert.Equal(0.10m, all.Points[0].ByFeature["support-chat"]);
        Assert.Equal(0.05m, all.Points[0].ByFeature["faq-bot"]);
        Assert.Equal(0.07m, all.Points[0].ByFeature["report-gen"]);

        var faq = CostTrend.Trend(a.Table, HandData.Catalog(), false, "faq-bot", null, "2026-11-02", null, CancellationToken.None);
        Assert.Equal(("feature", "faq-bot"), (faq.Scope, faq.Name));
        var point = Assert.Single(faq.Points);
        Assert.Equal(("2026-11-02", 2L, 0.05m), (point.Date, point.Calls, point.CostUsd));

        var hourly = CostTrend.Trend(a.Table, HandData.Catalog(), true, "support-chat", null, null, null, CancellationToken.None);
        Assert.Equal(8, hourly.Points.Count);
        Assert.Equal("2026-11-01T10:00:00Z", hourly.Points[0].Date);
    }

    [Fact(Timeout = 10_000)]
    public async Task What_if_applies_only_the_chosen_changes_in_plan_order()
    {
        await Task.Yield();
        var a = HandData.Analyzer();
        // Repeats: the second faq-bot call of each day, 2 x $0.023. Batch API: report-gen, 2 x $0.07 at half price.
        var r = FollowUps.WhatIf(a, ["use-batch-api", "cache-exact-repeats"], CancellationToken.None);
        Assert.Equal(["cache-exact-repeats", "use-batch-api"], r.RecommendationIds);
        Assert.Equal(Cents(2 * 0.023 * Month), r.Chosen[0].MonthlySavingsUsd);
        Assert.Equal(Cents(2 * 0.07 * 0.5 * Month), r.Chosen[1].MonthlySavingsUsd);
        Assert.Equal(Cents((2 * 0.023 + 0.07) * Month), r.MonthlySavingsUsd);
        Assert.Equal(r.MonthlySavingsUsd * 12, r.AnnualSavingsUsd);
        Assert.Equal(Cents(0.432 * Month), r.MonthlyCostUsd);
        Assert.Equal(Math.Round((2 * 0.023 + 0.07) / 0.432 * 100, 1), r.Percent);

        // Caching alone: the repeats, then prompt caching of half of each remaining long prompt at $5 off per million.
        // faq-bot: 2 remaining calls x 1,000 tokens; report-gen: 2 calls x 2,000 tokens.
        var caching = FollowUps.WhatIf(a, ["cache-exact-repeats", "enable-prompt-caching"], CancellationToken.None);
        Assert.Equal(Cents((0.046 + (2 * 1000 + 2 * 2000) * 5 / 1e6) * Month), caching.MonthlySavingsUsd);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_change_the_plan_lacks_is_answered_with_the_analysis_figures_and_the_plan()
    {
        await Task.Yield();
        // Without prompt hashes no repeat can be found, so the plan has no response cache.
        var noHashes = string.Join('\n', HandData.Csv.Split('\n').Select(line => string.Join(',', line.Split(',').Where((_, i) => i != 6))));
        var a = HandData.Analyzer(noHashes);
        FollowUps.EnsureAnalysed(a, CancellationToken.None);
        var full = SavingsPlanner.Plan(a, CancellationToken.None);
        Assert.DoesNotContain(full, p => p.Id == "cache-exact-repeats");

        var r = FollowUps.NotInPlan(a, PlanChanges.ExactRepeats, CancellationToken.None);
        Assert.Equal("Exact repeats: the data has no prompt hash or prompt, so repeated prompts cannot be found.", Assert.Single(r.Findings));
        Assert.Empty(r.Alone);
        Assert.Equal(full.Select(p => p.Id), r.Plan.Select(p => p.Id));
        Assert.Equal(Enumerable.Range(1, full.Count), r.Plan.Select(p => p.Order));
        Assert.Equal(Cents(full.Sum(p => p.SavingsUsd) * Month), r.FullPlanMonthlySavingsUsd);
        var answer = FollowUpWriter.Write(FollowUpKind.WhatIf, r);
        Assert.StartsWith("The plan for this data has no cache for exact repeated prompts.", answer, StringComparison.Ordinal);
        Assert.Contains($"1. {full[0].Title}: ${Cents(full[0].SavingsUsd * Month):N2}/month", answer, StringComparison.Ordinal);

        // A number past the plan's end names the plan's size and lists it.
        var past = FollowUps.NotInPlan(a, "#9", CancellationToken.None);
        Assert.Empty(past.Findings);
        Assert.StartsWith($"The plan for this data has no recommendation 9: it has {full.Count} changes.", FollowUpWriter.NotInPlan(past), StringComparison.Ordinal);

        // Failed calls are in this plan; their finding states the analysis' own figure (one failed call, $0.025 a period).
        var failed = FollowUps.NotInPlan(a, PlanChanges.FailedCalls, CancellationToken.None);
        Assert.Equal($"Failed calls: 1 call ended with an error and cost ${Cents(0.025 * Month):N2}/month.", Assert.Single(failed.Findings));
    }

    [Fact(Timeout = 10_000)]
    public async Task Breakdown_ranks_and_scopes_the_spend()
    {
        await Task.Yield();
        var a = HandData.Analyzer();
        var options = new AnalysisOptions();
        // Per period: support-chat 8 x $0.025 = $0.20, report-gen 2 x $0.07 = $0.14, faq-bot 4 x $0.023 = $0.092; $0.432 in all.
        var ranked = CostBreakdown.Compute(a, HandData.Catalog(), options, null, null, null, null, "feature", CancellationToken.None);
        Assert.Equal(["support-chat", "report-gen", "faq-bot"], ranked.ByFeature.Select(f => f.Name));
        Assert.Equal([Cents(0.2 * Month), Cents(0.14 * Month), Cents(0.092 * Month)], ranked.ByFeature.Select(f => f.MonthlyCostUsd));
        Assert.StartsWith($"**support-chat** costs the most: ${Cents(0.2 * Month):N2}/month, 46% of your ${Cents(0.432 * Month):N2}/month (14 calls over 2 days).",
            FollowUpWriter.Write(FollowUpKind.CostBreakdown, ranked), StringComparison.Ordinal);

        var faq = CostBreakdown.Compute(a, HandData.Catalog(), options, "faq-bot", null, null, null, null, CancellationToken.None);
        Assert.Equal((4L, 0.09m, 0.213), (faq.Calls, faq.CostUsd, Math.Round(faq.Share, 3)));
        Assert.StartsWith($"The feature **faq-bot** costs about **${Cents(0.092 * Month):N2}/month**, 21% of the ${Cents(0.432 * Month):N2}/month of all traffic ($0.09 in the data: 4 calls over 2 days).",
            FollowUpWriter.Breakdown(faq), StringComparison.Ordinal);

        // A feature whose calls span fewer days than the data is scaled over the data's days, as in the report.
        var oneDay = HandData.Analyzer(HandData.Csv.Replace("2026-11-02T02:00:00Z,big-4,4000,1000,9000,report-gen", "2026-11-01T03:00:00Z,big-4,4000,1000,9000,report-gen", StringComparison.Ordinal));
        var report = CostBreakdown.Compute(oneDay, HandData.Catalog(), options, "report-gen", null, null, null, null, CancellationToken.None);
        Assert.Equal((2, Cents(0.14 * Month)), (report.PeriodDays, report.MonthlyCostUsd));

        // A range counts only its days; the share is of all traffic in that range.
        var day2 = CostBreakdown.Compute(a, HandData.Catalog(), options, "report-gen", null, "2026-11-02", "2026-11-02", null, CancellationToken.None);
        Assert.Equal((1L, 0.07m, 1), (day2.Calls, day2.CostUsd, day2.PeriodDays));
        Assert.Equal(Math.Round(0.07 / 0.216, 4), day2.Share);

        Assert.Throws<ArgumentException>(() => CostBreakdown.Compute(a, HandData.Catalog(), options, "no-such-feature", null, null, null, null, CancellationToken.None));
    }

    [Fact(Timeout = 10_000)]
    public async Task Latency_without_any_measured_latency_says_so_once()
    {
        await Task.Yield();
        var noLatency = string.Join('\n', HandData.Csv.Split('\n').Select(line => string.Join(',', line.Split(',').Where((_, i) => i != 4))));
        var answer = FollowUpWriter.Latency(FollowUps.Latency(HandData.Analyzer(noLatency), CancellationToken.None));
        Assert.Contains("The data carries no latency per call, so there is nothing to rank by model or feature.", answer, StringComparison.Ordinal);
        Assert.DoesNotContain("By model", answer, StringComparison.Ordinal);
        Assert.Contains("By model (slowest p95 first):", FollowUpWriter.Latency(FollowUps.Latency(HandData.Analyzer(), CancellationToken.None)), StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task Explaining_the_failed_calls_change_gives_its_evidence_and_steps()
    {
        await Task.Yield();
        var a = HandData.Analyzer();
        var r = FollowUps.Explain(a, HandData.Catalog(), "fix-failed-calls", CancellationToken.None);
        var evidence = Assert.IsType<FailedCallsEvidence>(r.Evidence);
        Assert.Equal(1, evidence.FailedCalls);
        var answer = FollowUpWriter.Write(FollowUpKind.ExplainRecommendation, r);
        // One failed support-chat call: 1,000 in + 500 out at big-4 = $0.025.
        Assert.Contains("1 call ended with status=error and was still billed.", answer, StringComparison.Ordinal);
        Assert.Contains($"Evidence: 1 failed call cost $0.03 in the data's period (${Cents(0.025 * Month):N2}/month):\n- support-chat: 1 failed call, $0.03\n", answer, StringComparison.Ordinal);
        Assert.Contains("How to do it:\n1. Group the failed calls by error type", answer, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_reasoning_model_is_priced_with_its_reasoning_output()
    {
        await Task.Yield();
        var a = HandData.Analyzer();
        FollowUps.EnsureAnalysed(a, CancellationToken.None);
        var plan = SavingsPlanner.Plan(a, CancellationToken.None);
        var ids = plan.Select(p => p.Id).ToList();
        Assert.Equal(["cache-exact-repeats", "fix-failed-calls", "switch-model-big-4-to-think-3", "enable-prompt-caching", "use-batch-api"], ids);

        // On token prices alone think-3 costs $0.007 a support-chat call; with 2 reasoning tokens per visible
        // output token (no reasoning tokens in the data: the default assumption) its 500 output tokens bill as 1,500.
        var support = a.Models!.Groups.Single(g => g.Feature == "support-chat");
        Assert.Equal("think-3", support.Best!.Model);
        Assert.Equal(8 * (1000 * 2 + 1500 * 10) / 1e6, support.Best.CostUsd, 9);
        Assert.True(a.ReasoningOffered);
        Assert.False(a.Reasoning.Observed);
        Assert.Contains("2 reasoning tokens per visible output token", a.Reasoning.Assumption, StringComparison.Ordinal);
        Assert.Contains("reasoning output", plan[2].Rationale, StringComparison.Ordinal);

        var explained = FollowUps.Explain(a, HandData.Catalog(), "switch-model-big-4-to-think-3", CancellationToken.None);
        Assert.Equal(3, explained.Order);
        Assert.Equal(plan[2].SavingsUsd * Month, (double)explained.MonthlySavingsUsd, 2);
        Assert.Equal(("big-4", "think-3", true), (explained.From!.Model, explained.To!.Model, explained.To.Reasoning));
        var group = explained.Groups!.Single(g => g.Feature == "support-chat");
        Assert.Equal((8L, 8000L, 4000L, 12_000L), (group.Calls, group.InputTokens, group.OutputTokens, group.TargetOutputTokens));
        Assert.Equal(0.20m, group.CostUsd);
        Assert.Equal(Cents(8 * 0.017), group.CostAtTargetUsd);
        Assert.Contains(explained.Notes, n => n.Contains("reasoning model", StringComparison.Ordinal));
    }

    [Fact(Timeout = 10_000)]
    public async Task Observed_reasoning_tokens_replace_the_assumption()
    {
        await Task.Yield();
        // Built as rows: the reasoning_tokens column is read by the importers, whatever the file format.
        var catalog = HandData.Catalog();
        var columns = new Apex.Agents.Data.UsageColumns();
        var ts = new DateTimeOffset(2026, 11, 1, 10, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        columns.Add(new Apex.Agents.Data.UsageRow
        {
            TimestampMs = ts, Model = "think-3", Feature = "agent", UserTier = "", InputTokens = 1000, OutputTokens = 400, ReasoningTokens = 300,
            Requests = 1, LatencyMs = -1, CostUsd = 0.006,
        });
        columns.Add(new Apex.Agents.Data.UsageRow
        {
            TimestampMs = ts, Model = "big-4", Feature = "support-chat", UserTier = "", InputTokens = 1000, OutputTokens = 500,
            Requests = 1, LatencyMs = -1, CostUsd = 0.025,
        });
        var a = new UsageAnalyzer(UsageTable.FromColumns(columns, catalog), catalog, new AnalysisOptions());
        Assert.True(a.Reasoning.Observed);
        Assert.Equal(3, a.Reasoning.Factor); // 300 reasoning per 100 visible
        var compare = FollowUps.Compare(a, HandData.Catalog(), "support-chat", null, [HandData.Catalog().Find("think-3")!], CancellationToken.None);
        Assert.Equal(2000L, compare.Models[0].OutputTokensBilled);
    }

    [Fact(Timeout = 10_000)]
    public async Task Compare_prices_the_same_calls_at_each_model()
    {
        await Task.Yield();
        var a = HandData.Analyzer();
        var catalog = HandData.Catalog();
        var r = FollowUps.Compare(a, catalog, "support-chat", null, [catalog.Find("think-3")!, catalog.Find("small-2")!], CancellationToken.None);
        Assert.Equal((8L, 8000L, 4000L), (r.Calls, r.InputTokens, r.OutputTokens));
        Assert.Equal(3.00m, r.MonthlyCostUsd);
        var think = r.Models[0];
        Assert.Equal(Cents(8 * 0.017 * Month), think.MonthlyCostUsd);
        Assert.Equal(think.MonthlyCostUsd - 3.00m, think.MonthlyChangeUsd);
        Assert.Contains("reasoning", think.Note, StringComparison.Ordinal);
        var small = r.Models[1];
        Assert.Equal(Cents(8 * (1000 * 0.5 + 500 * 2) / 1e6 * Month), small.MonthlyCostUsd);
        Assert.Equal(2, small.QualityTier);
        Assert.Null(small.Note);
    }

    [Fact(Timeout = 10_000)]
    public async Task Latency_counts_successful_calls_and_reports_failures_apart()
    {
        await Task.Yield();
        var r = FollowUps.Latency(HandData.Analyzer(), CancellationToken.None);
        // 13 successful latencies: 400 x2, 500 x2, 1000 x2, 1200 x2, 1400 x2, 1600, 9000 x2; p95 is the 13th.
        Assert.Equal(9000, r.P95LatencyMs);
        Assert.Equal(1200, r.P50LatencyMs);
        Assert.Equal(1, r.FailedCalls);
        Assert.Equal(30000, r.FailedP95LatencyMs);
        var support = r.ByFeature.Single(g => g.Name == "support-chat");
        Assert.Equal((1600, 1L), (support.P95LatencyMs, support.FailedCalls));
        Assert.Equal("report-gen", r.ByFeature[0].Name);
        Assert.Contains(r.Changes, c => c.Contains("1 failed calls are counted apart", StringComparison.Ordinal));
    }

    [Fact(Timeout = 10_000)]
    public async Task Filter_keeps_the_asked_rows()
    {
        await Task.Yield();
        var a = HandData.Analyzer();
        var (table, applied) = new RowFilter { ExcludeFeatures = ["report-gen"] }.Apply(a.Table, HandData.Catalog(), CancellationToken.None);
        Assert.Equal(12, table.Count);
        Assert.Equal((12L, 2L, 0.29m, 0.14m), (applied.CallsKept, applied.CallsRemoved, applied.CostKeptUsd, applied.CostRemovedUsd));
        Assert.Equal("without report-gen", applied.Description);
    }

    [Fact(Timeout = 10_000)]
    public async Task Retired_models_are_named_with_their_successor_and_its_price()
    {
        await Task.Yield();
        var a = HandData.Analyzer("timestamp,model,input_tokens,output_tokens\n2026-11-01T10:00:00Z,old-1,1000,100\n");
        var catalog = HandData.Catalog();
        var used = a.Summarize(CancellationToken.None).ByModel.Select(g => catalog.Find(g.Name)).OfType<ModelPrice>();
        var note = Assert.Single(FollowUps.RetiredNotes(used, catalog));
        Assert.Equal("old-1 is retired; its successor big-4 lists at $10 input / $30 output per million tokens (against $20 / $40).", note);
    }
}

/// <summary>A thread on the built-in planner: the analysis, then follow-ups answered from its report and data.</summary>
[Collection(TimingSensitive.Name)]
public sealed class ThreadFollowUpTests
{
    [Fact(Timeout = 30_000)]
    public async Task Follow_ups_are_answered_by_their_tools_not_by_a_new_report()
    {
        var catalog = HandData.Catalog();
        var data = new InMemoryUsageDataSource();
        var id = data.Add("usr_a", TestSupport.ParseCsv(HandData.Csv, catalog));
        var runtime = TestSupport.Runtime(data, catalog);

        var first = await TestSupport.CollectAsync(runtime, TestSupport.Request("Analyse the usage file I uploaded and give me a 4-week plan.", id));
        TestSupport.AssertWellFormedRun(first);
        var report = TestSupport.Report(first);
        Assert.Equal(id, report.GetProperty("dataset_id").GetString());
        var daily = report.GetProperty("cost_analysis").GetProperty("daily");
        Assert.Equal(2, daily.GetArrayLength());
        Assert.Equal(0.10m, daily[0].GetProperty("by_feature").GetProperty("support-chat").GetDecimal());
        var followUps = report.GetProperty("follow_ups").EnumerateArray().Select(f => f.GetString()!).ToList();
        Assert.InRange(followUps.Count, 2, 4);
        Assert.Contains(report.GetProperty("assumptions").EnumerateArray(), a => a.GetString()!.Contains("reasoning", StringComparison.Ordinal));

        // Every suggested follow-up is recognised and answered by a tool (or, for a filter, a filtered report).
        foreach (var question in followUps)
        {
            var events = await TestSupport.CollectAsync(runtime, Request(question, id, report));
            TestSupport.AssertWellFormedRun(events);
            var last = events[^1].Payload;
            if (last.TryGetProperty("report", out var filtered))
            {
                Assert.True(filtered.TryGetProperty("filters", out _), question);
            }
            else
            {
                Assert.Equal("follow_up", last.GetProperty("result").GetProperty("intent").GetString());
            }
        }

        var whatIf = await TestSupport.CollectAsync(runtime, Request("What if we only did the caching change?", id, report));
        TestSupport.AssertWellFormedRun(whatIf);
        Assert.False(whatIf[^1].Payload.TryGetProperty("report", out _));
        var result = whatIf[^1].Payload.GetProperty("result");
        Assert.Equal("what_if", result.GetProperty("kind").GetString());
        Assert.Equal(id, result.GetProperty("dataset_id").GetString());
        Assert.Contains("what_if", TestSupport.ToolsCalled(whatIf));
        Assert.DoesNotContain("summarize_usage", TestSupport.ToolsCalled(whatIf));
        var monthly = Math.Round((decimal)((0.046 + 0.03) * 15), 2);
        Assert.Contains($"${monthly:N2}/month", TestSupport.Answer(whatIf), StringComparison.Ordinal);

        var thanks = await TestSupport.CollectAsync(runtime, Request("Thanks!", id, report));
        TestSupport.AssertWellFormedRun(thanks);
        Assert.StartsWith($"You're welcome. You can ask more about the plan, for example:\n- {followUps[0]}\n", TestSupport.Answer(thanks), StringComparison.Ordinal);

        var costliest = await TestSupport.CollectAsync(runtime, Request("Which model costs us the most?", id, report));
        TestSupport.AssertWellFormedRun(costliest);
        Assert.Equal("cost_breakdown", costliest[^1].Payload.GetProperty("result").GetProperty("kind").GetString());
        Assert.DoesNotContain("summarize_usage", TestSupport.ToolsCalled(costliest));
        Assert.StartsWith("**big-4** costs the most", TestSupport.Answer(costliest), StringComparison.Ordinal);

        var everything = await TestSupport.CollectAsync(runtime, Request("What if we switched everything to small-2?", id, report));
        Assert.Equal("compare_models", everything[^1].Payload.GetProperty("result").GetProperty("kind").GetString());

        var trend = await TestSupport.CollectAsync(runtime, Request("Show me the daily cost trend for faq-bot", id, report));
        var trendResult = trend[^1].Payload.GetProperty("result");
        Assert.Equal("cost_trend", trendResult.GetProperty("kind").GetString());
        Assert.Equal("feature", trendResult.GetProperty("trend").GetProperty("scope").GetString());
        Assert.Equal(2, trendResult.GetProperty("trend").GetProperty("points").GetArrayLength());
    }

    [Fact(Timeout = 30_000)]
    public async Task A_what_if_on_a_change_the_plan_lacks_answers_from_the_tool_instead_of_repeating_the_report()
    {
        var catalog = HandData.Catalog();
        var data = new InMemoryUsageDataSource();
        var noHashes = string.Join('\n', HandData.Csv.Split('\n').Select(line => string.Join(',', line.Split(',').Where((_, i) => i != 6))));
        var id = data.Add("usr_a", TestSupport.ParseCsv(noHashes, catalog));
        var runtime = TestSupport.Runtime(data, catalog);
        var first = await TestSupport.CollectAsync(runtime, TestSupport.Request("Analyse the usage file I uploaded and give me a 4-week plan.", id));
        var report = TestSupport.Report(first);
        var planned = report.GetProperty("recommendations").EnumerateArray().Select(r => r.GetProperty("id").GetString()).ToList();
        Assert.DoesNotContain("cache-exact-repeats", planned);

        var events = await TestSupport.CollectAsync(runtime, Request("What would we save if we only cached the exact repeats?", id, report));
        TestSupport.AssertWellFormedRun(events);
        Assert.False(events[^1].Payload.TryGetProperty("report", out _));
        Assert.Equal("what_if", events[^1].Payload.GetProperty("result").GetProperty("kind").GetString());
        Assert.Contains("what_if", TestSupport.ToolsCalled(events));
        Assert.DoesNotContain("summarize_usage", TestSupport.ToolsCalled(events));
        var answer = TestSupport.Answer(events);
        Assert.StartsWith("The plan for this data has no cache for exact repeated prompts.", answer, StringComparison.Ordinal);
        Assert.Contains("no prompt hash", answer, StringComparison.Ordinal);
        Assert.Contains($"Together they save ${report.GetProperty("potential_savings").GetProperty("monthly_amount").GetDecimal():N2}/month", answer, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_message_about_an_upload_uses_the_latest_one_or_asks_for_one()
    {
        var data = new InMemoryUsageDataSource();
        var none = await TestSupport.CollectAsync(TestSupport.Runtime(data), TestSupport.Request("Analyse the usage file I uploaded"));
        TestSupport.AssertWellFormedRun(none);
        Assert.False(none[^1].Payload.TryGetProperty("report", out _));
        Assert.Contains("can't find an uploaded usage file", TestSupport.Answer(none), StringComparison.Ordinal);

        var catalog = HandData.Catalog();
        var id = data.Add("usr_a", TestSupport.ParseCsv(HandData.Csv, catalog), "november.csv");
        var events = await TestSupport.CollectAsync(TestSupport.Runtime(data, catalog), TestSupport.Request("Analyse the usage file I uploaded"));
        var report = TestSupport.Report(events);
        Assert.Equal(id, report.GetProperty("dataset_id").GetString());
        Assert.Equal(14, report.GetProperty("cost_analysis").GetProperty("calls").GetInt64());
        Assert.Contains("latest upload, **november.csv**", TestSupport.Answer(events), StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Estimates_price_a_reasoning_model_with_its_reasoning_output_and_name_retired_models()
    {
        var runtime = TestSupport.Runtime(new InMemoryUsageDataSource(), HandData.Catalog());
        var events = await TestSupport.CollectAsync(runtime, TestSupport.Request("We spend $5,000/month on big-4 for customer support, 2M requests."));
        var report = TestSupport.Report(events);
        var rec = report.GetProperty("recommendations")[0];
        Assert.Equal("Move customer support from big-4 to think-3", rec.GetProperty("title").GetString());
        // Assumed mix 1,000 in / 300 out: big-4 $0.019 a call; think-3 with 2 x 300 reasoning tokens $0.011, not $0.005.
        Assert.Equal(Math.Round(5000m * (1 - 11m / 19m), 2), rec.GetProperty("monthly_savings_usd").GetDecimal());
        Assert.Contains(report.GetProperty("assumptions").EnumerateArray(), a => a.GetString()!.Contains("think-3 is a reasoning model", StringComparison.Ordinal));

        var retired = await TestSupport.CollectAsync(runtime, TestSupport.Request("We spend $2,000/month on old-1 for summaries."));
        var note = Assert.Single(TestSupport.Report(retired).GetProperty("notes").EnumerateArray()).GetString()!;
        Assert.StartsWith("old-1 is retired; its successor big-4 lists at $10 input / $30 output", note, StringComparison.Ordinal);
        Assert.Contains(note, TestSupport.Answer(retired), StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_newer_upload_named_in_the_message_replaces_the_last_reports_data()
    {
        var catalog = HandData.Catalog();
        var data = new InMemoryUsageDataSource();
        var first = data.Add("usr_a", TestSupport.ParseCsv(HandData.Csv, catalog), "october.csv");
        var runtime = TestSupport.Runtime(data, catalog);
        var report = TestSupport.Report(await TestSupport.CollectAsync(runtime, TestSupport.Request("Analyse my usage", first)));
        var second = data.Add("usr_a", TestSupport.ParseCsv("timestamp,model,input_tokens,output_tokens\n2026-11-05T10:00:00Z,big-4,1000,100\n", catalog), "november.csv");

        // No dataset on the message or thread: the report's data answers follow-ups, the newer upload answers "my latest upload".
        var followUp = await TestSupport.CollectAsync(runtime, TestSupport.Request("Show the daily cost trend") with { LastReport = report });
        Assert.Equal(first, followUp[^1].Payload.GetProperty("result").GetProperty("dataset_id").GetString());
        var latest = await TestSupport.CollectAsync(runtime, TestSupport.Request("Analyse the file I just uploaded") with { LastReport = report });
        Assert.Equal(second, TestSupport.Report(latest).GetProperty("dataset_id").GetString());
        Assert.Contains("latest upload, **november.csv**", TestSupport.Answer(latest), StringComparison.Ordinal);
    }

    internal static AgentRunRequest Request(string text, string datasetId, JsonElement lastReport) =>
        TestSupport.Request(text, datasetId) with { LastReport = lastReport, LastReportRunId = "run_previous" };
}
