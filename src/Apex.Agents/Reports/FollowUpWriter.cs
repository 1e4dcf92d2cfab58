using System.Globalization;
using System.Text;
using Apex.Agents.Analysis;
using Apex.Agents.Data;
using Apex.Agents.Planning;

namespace Apex.Agents.Reports;

/// <summary>The built-in planner's answers to follow-ups: markdown templates stating the tool's own figures.</summary>
public static class FollowUpWriter
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private static string Usd(decimal amount) => ReportBuilder.Usd(amount);

    private static string Ms(int? ms) => ms is { } v ? v.ToString("N0", Inv) + " ms" : "n/a";

    public static string Write(FollowUpKind kind, object result) => (kind, result) switch
    {
        (_, NotInPlanResult r) => NotInPlan(r),
        (FollowUpKind.WhatIf, WhatIfResult r) => WhatIf(r),
        (FollowUpKind.ExplainRecommendation, ExplainResult r) => Explain(r),
        (FollowUpKind.CostTrend, TrendResult r) => Trend(r),
        (FollowUpKind.CompareModels, CompareResult r) => Compare(r),
        (FollowUpKind.Latency, LatencyResult r) => Latency(r),
        (FollowUpKind.CostBreakdown, BreakdownResult r) => Breakdown(r),
        _ => throw new ArgumentException($"No answer template for {kind}."),
    };

    public static string Failed(FollowUpKind kind, string? error) =>
        $"I could not answer that from this data: {error ?? "the tool gave no result"}\n";

    public static string WhatIf(WhatIfResult r)
    {
        var text = new StringBuilder();
        var titles = string.Join("; ", r.Chosen.Select(c => c.Title));
        text.Append(Inv, $"If you only did {(r.Chosen.Count == 1 ? "this change" : $"these {r.Chosen.Count} changes")} ({titles}), you would save **{Usd(r.MonthlySavingsUsd)}/month** ")
            .Append(Inv, $"({Usd(r.AnnualSavingsUsd)}/year, {r.Percent.ToString("0.0", Inv)}% of your {Usd(r.MonthlyCostUsd)}/month), leaving {Usd(r.MonthlyCostAfterUsd)}/month.\n\n");
        text.Append("Applied in plan order on the same calls, each on what the previous one leaves:\n");
        foreach (var c in r.Chosen)
        {
            text.Append(Inv, $"- {c.Title}: {Usd(c.MonthlySavingsUsd)}/month on its own (in the full plan, after the changes before it: {Usd(c.InFullPlanMonthlySavingsUsd)}/month).\n");
        }

        text.Append(Inv, $"\nThe full plan saves {Usd(r.FullPlanMonthlySavingsUsd)}/month.\n");
        if (r.UnknownIds.Count > 0)
        {
            text.Append(Inv, $"Not in the plan for this data: {string.Join(", ", r.UnknownIds)}.\n");
        }

        return text.ToString();
    }

    /// <summary>A change the plan does not contain: why not, what it would save alone, and the plan's changes instead.</summary>
    public static string NotInPlan(NotInPlanResult r)
    {
        var text = new StringBuilder();
        var asked = PlanChanges.Describe(r.Asked);
        text.Append(Inv, $"The plan for this data has no {asked}")
            .Append(r.Asked.StartsWith('#') ? string.Create(Inv, $": it has {r.Plan.Count} change{(r.Plan.Count == 1 ? "" : "s")}.\n") : ".\n");
        if (r.Findings.Count > 0)
        {
            text.Append('\n');
            foreach (var finding in r.Findings)
            {
                text.Append("- ").Append(finding).Append('\n');
            }
        }

        if (r.Alone.Count > 0)
        {
            text.Append(Inv, $"\nOn its own it would save **{Usd(r.AloneMonthlySavingsUsd)}/month** ({string.Join("; ", r.Alone.Select(c => $"{c.Title}: {Usd(c.MonthlySavingsUsd)}"))}), ")
                .Append("but after the plan's earlier changes it saves less than a cent a month, so the plan leaves it out.\n");
        }
        else if (r.Findings.Count > 0)
        {
            text.Append("\nThe plan lists a change when it saves at least a cent a month.\n");
        }

        if (r.Plan.Count == 0)
        {
            text.Append("\nThe plan has no changes for this data.\n");
            return text.ToString();
        }

        text.Append("\nThe plan's changes:\n");
        foreach (var p in r.Plan)
        {
            text.Append(Inv, $"{p.Order}. {p.Title}: {Usd(p.MonthlySavingsUsd)}/month\n");
        }

        text.Append(r.Plan.Count == 1
            ? string.Create(Inv, $"\nIt saves {Usd(r.FullPlanMonthlySavingsUsd)}/month.\n")
            : string.Create(Inv, $"\nTogether they save {Usd(r.FullPlanMonthlySavingsUsd)}/month. Ask \"What if we only did recommendation 1?\" to see one of them alone.\n"));
        return text.ToString();
    }

    public static string Explain(ExplainResult r)
    {
        var text = new StringBuilder();
        text.Append(Inv, $"Recommendation {r.Order}, **{r.Title}**, saves {Usd(r.MonthlySavingsUsd)}/month. {r.Rationale}\n\n");
        if (r.Groups is { Count: > 0 } groups && r.From is { } from && r.To is { } to)
        {
            text.Append("The calls behind it:\n");
            foreach (var g in groups)
            {
                text.Append(Inv, $"- {g.Feature} on {g.Model}: {g.Calls:N0} calls, {g.InputTokens:N0} input tokens ({g.CachedInputTokens:N0} cached), {g.OutputTokens:N0} output tokens")
                    .Append(g.ReasoningTokens > 0 ? string.Create(Inv, $" ({g.ReasoningTokens:N0} reasoning)") : string.Empty)
                    .Append(Inv, $"; they cost {Usd(g.CostUsd)} in the data's period and would cost {Usd(g.CostAtTargetUsd)} on {to.Model}")
                    .Append(g.TargetOutputTokens != g.OutputTokens ? string.Create(Inv, $" ({g.TargetOutputTokens:N0} output tokens billed, reasoning included)") : string.Empty)
                    .Append(".\n");
            }

            text.Append("\nList prices per million tokens:\n");
            foreach (var p in new[] { from, to })
            {
                text.Append(Inv, $"- {p.Model}: ${p.InputPerMillion:0.###} input, ${p.CachedInputPerMillion:0.###} cached input, ${p.OutputPerMillion:0.###} output; quality tier {p.QualityTier}{(p.Reasoning ? "; reasoning model" : "")}.\n");
            }
        }
        else if (r.Evidence is RepeatsResult rep)
        {
            text.Append(Inv, $"Evidence: {rep.RepeatCalls:N0} of {rep.CallsWithPrompt:N0} calls with a prompt hash repeat one seen within {rep.TtlHours:0.##} h; they cost {Usd(Money.Cents(rep.RepeatCostUsd))} in the data's period.\n");
        }
        else if (r.Evidence is CachingResult cache)
        {
            text.Append(Inv, $"Evidence: {cache.EligibleCalls:N0} calls send long prompts with few cached tokens; {cache.CacheableTokens:N0} prefix tokens could be billed at the cached-input price.\n");
        }
        else if (r.Evidence is BatchingResult batch)
        {
            text.Append(Inv, $"Evidence: {batch.EligibleCalls:N0} calls ({Usd(Money.Cents(batch.EligibleCostUsd))} in the data's period) need no immediate answer: {string.Join("; ", batch.ByFeature.Take(3).Select(f => $"{f.Feature} ({f.Reason})"))}.\n");
        }
        else if (r.Evidence is FailedCallsEvidence failed)
        {
            text.Append(Inv, $"Evidence: {failed.FailedCalls:N0} failed call{(failed.FailedCalls == 1 ? "" : "s")} cost {Usd(Money.Cents(failed.FailedCostUsd))} in the data's period ({Usd(Money.Cents(failed.FailedMonthlyUsd))}/month):\n");
            foreach (var f in failed.FailedByFeature.Take(5))
            {
                text.Append(Inv, $"- {f.Feature}: {f.Calls:N0} failed call{(f.Calls == 1 ? "" : "s")}, {Usd(Money.Cents(f.CostUsd))}\n");
            }
        }
        else if (r.Evidence is OutputTailsEvidence tails)
        {
            text.Append("Evidence: answers far longer than their group's median:\n");
            foreach (var t in tails.OutputTails.Take(5))
            {
                text.Append(Inv, $"- {t.Feature} on {t.Model}: median {t.MedianOutputTokens:N0} output tokens, p95 {t.P95OutputTokens:N0}; a cap at {t.Cap:N0} trims {t.TrimmedTokens:N0} tokens ({Usd(Money.Cents(t.SavingsUsd))} in the data's period).\n");
            }
        }

        if (r.Steps.Count > 0)
        {
            text.Append("\nHow to do it:\n");
            for (var i = 0; i < r.Steps.Count; i++)
            {
                text.Append(Inv, $"{i + 1}. {r.Steps[i]}\n");
            }
        }

        if (r.Notes.Count > 0)
        {
            text.Append('\n');
            foreach (var note in r.Notes)
            {
                text.Append("- ").Append(note).Append('\n');
            }
        }

        AppendAssumptions(text, r.Assumptions);
        return text.ToString();
    }

    /// <summary>Where the money goes: the costliest model or feature first when that was asked, then the split.</summary>
    public static string Breakdown(BreakdownResult r)
    {
        var text = new StringBuilder();
        var range = r.From is null && r.To is null ? string.Empty : $" from {r.From ?? "the start"} to {r.To ?? "the end"}";
        var days = string.Create(Inv, $"{r.Calls:N0} call{(r.Calls == 1 ? "" : "s")} over {r.PeriodDays} day{(r.PeriodDays == 1 ? "" : "s")}{range}");
        var ranked = r.Ranking == "feature" ? r.ByFeature.Where(f => f.Name != "(none)").ToList() : r.Ranking == "model" ? [.. r.ByModel] : [];
        if (r.UnmatchedName is { } unmatched)
        {
            text.Append(Inv, $"No feature or model in this data is called \"{unmatched}\", so this is all traffic")
                .Append(r.KnownFeatures.Count > 0 ? $" (its features: {string.Join(", ", r.KnownFeatures.Take(8))})" : string.Empty).Append(".\n\n");
        }

        if (ranked.Count > 0)
        {
            var top = ranked[0];
            text.Append(Inv, $"**{top.Name}** costs the most: {Usd(top.MonthlyCostUsd)}/month, {SavingsPlanner.Percent(top.Share)} of your {Usd(r.MonthlyCostUsd)}/month ({days}).\n\n");
        }
        else if (r.Scope == "all" && range.Length > 0)
        {
            text.Append(Inv, $"From {r.From ?? "the start of the data"} to {r.To ?? "its end"} you spent **{Usd(r.CostUsd)}** ({r.Calls:N0} call{(r.Calls == 1 ? "" : "s")} over {r.PeriodDays} day{(r.PeriodDays == 1 ? "" : "s")} of data), about {Usd(r.MonthlyCostUsd)}/month.\n\n");
        }
        else if (r.Scope == "all")
        {
            text.Append(Inv, $"You spend about **{Usd(r.MonthlyCostUsd)}/month** ({Usd(r.CostUsd)} in the data: {days}).\n\n");
        }
        else
        {
            text.Append(Inv, $"The {r.Scope} **{r.Name}** costs about **{Usd(r.MonthlyCostUsd)}/month**, {SavingsPlanner.Percent(r.Share)} of the {Usd(r.AllMonthlyCostUsd)}/month of all traffic ({Usd(r.CostUsd)} in the data: {days}).\n\n");
        }

        void List(string title, IReadOnlyList<BreakdownRow> rows)
        {
            if (rows.Count <= 1 && r.Scope != "all")
            {
                return;
            }

            text.Append(title).Append(":\n");
            foreach (var row in rows.Take(8))
            {
                text.Append(Inv, $"- {row.Name}: {Usd(row.MonthlyCostUsd)}/month ({SavingsPlanner.Percent(row.Share)}), {row.Calls:N0} call{(row.Calls == 1 ? "" : "s")}")
                    .Append(row.P95LatencyMs is { } p95 ? string.Create(Inv, $", p95 latency {p95:N0} ms") : string.Empty).Append('\n');
            }

            if (rows.Count > 8)
            {
                text.Append(Inv, $"- and {rows.Count - 8} more\n");
            }

            text.Append('\n');
        }

        if (r.Ranking == "feature")
        {
            List("By feature", r.ByFeature);
            List("By model", r.ByModel);
        }
        else
        {
            List("By model", r.ByModel);
            List("By feature", r.ByFeature);
        }

        text.Append(Inv, $"Monthly figures scale the {r.PeriodDays} day{(r.PeriodDays == 1 ? "" : "s")} of data to 30 days, as the report does.\n");
        return text.ToString();
    }

    public static string Trend(TrendResult r)
    {
        var text = new StringBuilder();
        var what = r.Scope switch { "feature" => $"feature {r.Name}", "model" => $"model {r.Name}", _ => "all traffic" };
        var range = r.From is null && r.To is null ? string.Empty : $" ({(r.From ?? "start")} to {(r.To ?? "end")})";
        var unit = r.Granularity == "hour" ? "hour" : "day";
        if (r.UnmatchedName is { } unmatched)
        {
            var known = r.KnownFeatures is { Count: > 0 } f
                ? $" The features in this data are {string.Join(", ", f.Take(12))}{(f.Count > 12 ? $" and {f.Count - 12} more" : string.Empty)}."
                : string.Empty;
            text.Append(Inv, $"No feature or model in this data is called \"{unmatched}\", so this is the trend of all traffic.{known}\n\n");
        }

        if (r.Points.Count == 0)
        {
            return text.Append(Inv, $"There are no calls of {what}{range} in this data.\n").ToString();
        }

        text.Append(Inv, $"{(unit == "hour" ? "Hourly" : "Daily")} cost of {what}{range}: {r.Points.Count} {unit}(s), {Usd(r.TotalCostUsd)} over {r.TotalCalls:N0} calls");
        if (r.Peak is { } peak)
        {
            text.Append(Inv, $"; the highest {unit} is {peak.Date} at {Usd(peak.CostUsd)}");
        }

        text.Append(".\n\n| " + unit + " | calls | cost |\n|---|---:|---:|\n");
        const int shown = 62;
        foreach (var p in r.Points.Take(shown))
        {
            text.Append(Inv, $"| {p.Date} | {p.Calls:N0} | {Usd(p.CostUsd)} |\n");
        }

        if (r.Points.Count > shown)
        {
            text.Append(Inv, $"\n(The first {shown} of {r.Points.Count} points; the chart has them all.)\n");
        }

        return text.ToString();
    }

    public static string Compare(CompareResult r)
    {
        var text = new StringBuilder();
        text.Append(Inv, $"Pricing the {r.Calls:N0} calls of {(r.Feature ?? "all features")} (today on {string.Join(", ", r.CurrentModels)}: {Usd(r.MonthlyCostUsd)}/month) ")
            .Append(Inv, $"with the same {r.InputTokens:N0} input and {r.OutputTokens:N0} output tokens:\n\n");
        text.Append("| model | tier | reasoning | $/M input | $/M output | monthly | change |\n|---|---:|---|---:|---:|---:|---:|\n");
        foreach (var m in r.Models)
        {
            var change = m.MonthlyChangeUsd < 0 ? "-" + Usd(-m.MonthlyChangeUsd) : "+" + Usd(m.MonthlyChangeUsd);
            text.Append(Inv, $"| {m.Model} | {m.QualityTier} | {(m.Reasoning ? "yes" : "no")} | ${m.InputPerMillion:0.###} | ${m.OutputPerMillion:0.###} | {Usd(m.MonthlyCostUsd)} | {change} |\n");
        }

        var notes = r.Models.Where(m => m.Note is not null).ToList();
        if (notes.Count > 0)
        {
            text.Append('\n');
            foreach (var m in notes)
            {
                text.Append(Inv, $"- {m.Model}: {m.Note}\n");
            }
        }

        AppendAssumptions(text, r.Assumptions);
        return text.ToString();
    }

    public static string Latency(LatencyResult r)
    {
        var text = new StringBuilder();
        text.Append(Inv, $"Latency of successful calls: p50 {Ms(r.P50LatencyMs)}, p95 {Ms(r.P95LatencyMs)}. ");
        text.Append(r.FailedCalls > 0
            ? string.Create(Inv, $"{r.FailedCalls:N0} failed calls are counted apart{(r.FailedP95LatencyMs is { } f ? $" (their p95 is {f:N0} ms)" : "")}.\n\n")
            : "No failed calls.\n\n");
        if (r.PerCallStatistics != "available")
        {
            text.Append("Per-call statistics are ").Append(r.PerCallStatistics).Append(".\n\n");
        }

        if (r.P95LatencyMs is null && r.ByModel.All(g => g.P95LatencyMs is null))
        {
            // Without a single measured latency the per-group lines would only repeat "n/a".
            text.Append("The data carries no latency per call, so there is nothing to rank by model or feature.\n");
        }
        else
        {
            LatencyGroups(text, r);
        }

        LatencyTails(text, r);
        return text.ToString();
    }

    private static void LatencyGroups(StringBuilder text, LatencyResult r)
    {
        text.Append("By model (slowest p95 first):\n");
        foreach (var g in r.ByModel.Take(5))
        {
            text.Append(Inv, $"- {g.Name}: p50 {Ms(g.P50LatencyMs)}, p95 {Ms(g.P95LatencyMs)} over {g.Calls:N0} calls ({g.FailedCalls:N0} failed)\n");
        }

        text.Append("\nBy feature (slowest p95 first):\n");
        foreach (var g in r.ByFeature.Take(5))
        {
            text.Append(Inv, $"- {g.Name}: p50 {Ms(g.P50LatencyMs)}, p95 {Ms(g.P95LatencyMs)} over {g.Calls:N0} calls ({g.FailedCalls:N0} failed)\n");
        }
    }

    private static void LatencyTails(StringBuilder text, LatencyResult r)
    {
        if (r.OutputTails.Count > 0)
        {
            text.Append("\nLong outputs (p95 far above the median):\n");
            foreach (var t in r.OutputTails.Take(5))
            {
                text.Append(Inv, $"- {t.Feature} on {t.Model}: median {t.MedianOutputTokens:N0} tokens, p95 {t.P95OutputTokens:N0} tokens\n");
            }
        }

        if (r.Changes.Count > 0)
        {
            text.Append("\nWhat to change:\n");
            foreach (var c in r.Changes)
            {
                text.Append("- ").Append(c).Append('\n');
            }
        }
    }

    /// <summary>The answer when a message refers to an upload but the user has none.</summary>
    public static string NoUpload() =>
        "I can't find an uploaded usage file on your account, so there is nothing to analyse yet. Upload a usage export " +
        "(from OpenAI, Anthropic, LiteLLM, Langfuse, Helicone, OpenRouter, Portkey, Bedrock or OpenTelemetry GenAI spans, or a CSV or JSON Lines " +
        "with timestamp, model, input_tokens, output_tokens, and ideally feature, latency_ms, cost_usd, prompt_hash and status), " +
        "attach it to your message, and ask again. Or describe your usage, e.g. \"We spend $5,000/month on GPT-4 for customer support, 2M requests.\"\n";

    /// <summary>The sentence that opens an answer about the latest upload found without an attachment.</summary>
    public static string UsedLatestUpload(UsageDatasetInfo info) =>
        string.Create(Inv, $"No file was attached to this conversation, so I analysed your latest upload, **{info.Name}** ({info.Rows:N0} rows, uploaded {info.CreatedAt:yyyy-MM-dd HH:mm} UTC).\n\n");

    /// <summary>The sentence that opens the answer of a filtered analysis.</summary>
    public static string Filtered(AppliedFilter f) =>
        string.Create(Inv, $"Your data {f.Description}: {f.CallsKept:N0} calls kept, {f.CallsRemoved:N0} left out ({Usd(f.CostRemovedUsd)} of the data's cost).\n\n");

    private static void AppendAssumptions(StringBuilder text, IReadOnlyList<string> assumptions)
    {
        if (assumptions.Count == 0)
        {
            return;
        }

        text.Append("\nAssumptions:\n");
        foreach (var a in assumptions)
        {
            text.Append("- ").Append(a).Append('\n');
        }
    }

    internal static string KindText(FollowUpKind kind) => kind switch
    {
        FollowUpKind.WhatIf => "what-if",
        FollowUpKind.ExplainRecommendation => "explanation of a recommendation",
        FollowUpKind.CostTrend => "cost trend",
        FollowUpKind.CompareModels => "model comparison",
        FollowUpKind.Latency => "latency breakdown",
        FollowUpKind.CostBreakdown => "cost breakdown",
        _ => "filtered analysis",
    };
}
