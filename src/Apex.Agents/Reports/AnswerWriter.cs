using System.Globalization;
using System.Text;
using Apex.Agents.Analysis;
using Apex.Agents.Planning;

namespace Apex.Agents.Reports;

/// <summary>The built-in planner's answer: templates filled with the report's own figures, so text and report agree.</summary>
public static class AnswerWriter
{
    public const string Capabilities =
        "I'm Apex, an assistant for AI spend and latency. I can analyse your LLM usage (upload an export from OpenAI, Anthropic, LiteLLM, " +
        "Langfuse, Helicone, OpenRouter, Portkey, Bedrock or OpenTelemetry GenAI spans, or your own CSV or JSON Lines with timestamp, " +
        "model, input_tokens, output_tokens and optionally feature, latency_ms, cost_usd, prompt_hash, status), show where the " +
        "money and latency go by model and feature, find repeated prompts, failed calls and long outputs, suggest cheaper models, caching " +
        "and batching, and give you a week-by-week plan with the monthly saving of each change. You can also just describe your usage, " +
        "e.g. \"We spend $5,000/month on GPT-4 for customer support, 2M requests.\"";

    public static string Greeting() => "Hello! " + Capabilities;

    /// <summary>"Thanks" closes a turn: a short reply, with the thread's follow-ups when it has a report.</summary>
    public static string Thanks(IReadOnlyList<string> followUps) => followUps.Count == 0
        ? "You're welcome. Upload a usage export or describe your usage whenever you want an analysis."
        : "You're welcome. You can ask more about the plan, for example:\n" + string.Concat(followUps.Select(q => $"- {q}\n"));

    public static string OffTopic() =>
        "Sorry, that is outside what I can help with: I focus on AI usage, cost, latency and quality. " + Capabilities;

    public static string Write(OptimizationReport report, RequestFacts facts, UsageSummary summary, UsageAnalyzer? analyzer)
    {
        var text = new StringBuilder();
        text.Append(report.Summary).Append("\n\n");
        if (report.Estimate)
        {
            WriteEstimateFacts(text, facts, summary);
        }
        else
        {
            WriteCostBreakdown(text, report);
            if (facts.Focus.Contains("latency"))
            {
                WriteLatency(text, facts, report, analyzer);
            }

            if (facts.Focus.Contains("quality") && analyzer?.Models is { } models)
            {
                WriteQuality(text, models);
            }
        }

        text.Append(Figures(report));
        if (report.Estimate)
        {
            text.Append("\nFor measured figures instead of estimates, please upload a usage export (CSV or JSON Lines with timestamp, model, " +
                "input_tokens, output_tokens, and ideally feature, latency_ms, cost_usd, prompt_hash and status); I will then compute " +
                "repeats, failed calls, caching and batching savings from your real traffic.\n");
        }

        if (report.Notes.Count > 0)
        {
            text.Append("\nNotes:\n");
            foreach (var note in report.Notes)
            {
                text.Append("- ").Append(note).Append('\n');
            }
        }

        if (report.Assumptions.Count > 0)
        {
            text.Append("\nAssumptions:\n");
            foreach (var assumption in report.Assumptions)
            {
                text.Append("- ").Append(assumption).Append('\n');
            }
        }

        return text.ToString();
    }

    /// <summary>The recommendations, total and plan: also appended after a language model's prose, so the answer always carries the report's figures.</summary>
    public static string Figures(OptimizationReport report)
    {
        var text = new StringBuilder();
        if (report.Recommendations.Count == 0)
        {
            text.Append("I found no change with a measurable saving in this data.\n");
            return text.ToString();
        }

        text.Append(report.Estimate ? "Recommendations (estimated):\n" : "Recommendations, in plan order (each saving counted on what the previous changes leave):\n");
        var number = 0;
        foreach (var r in report.Recommendations)
        {
            text.Append(CultureInfo.InvariantCulture, $"{++number}. {r.Title}: saves {ReportBuilder.Usd(r.MonthlySavingsUsd)}/month (effort {r.Effort}, risk {r.Risk}, confidence {r.Confidence}). {r.Rationale}\n");
        }

        var p = report.PotentialSavings;
        text.Append(CultureInfo.InvariantCulture,
            $"\nTotal potential savings: {ReportBuilder.Usd(p.MonthlyAmount)}/month, {ReportBuilder.Usd(p.AnnualAmount)}/year ({p.Percent.ToString("0.0", CultureInfo.InvariantCulture)}% of spend).\n");
        text.Append("\nPlan:\n");
        foreach (var week in report.ActionPlan.GroupBy(s => s.Week).OrderBy(g => g.Key))
        {
            var titles = week.Select(s => report.Recommendations.First(r => r.Id == s.RecommendationId).Title);
            text.Append(CultureInfo.InvariantCulture, $"- Week {week.Key}: {string.Join("; ", titles)}.\n");
        }

        return text.ToString();
    }

    private static void WriteEstimateFacts(StringBuilder text, RequestFacts facts, UsageSummary summary)
    {
        text.Append("What I read from your message: ");
        var parts = new List<string>();
        if (facts.SpendStated is not null) parts.Add($"spend {facts.SpendStated}");
        if (facts.Models.Count > 0) parts.Add($"model(s) {string.Join(", ", facts.Models)}");
        if (facts.RequestsPerMonth is { } r) parts.Add($"{r.ToString("N0", CultureInfo.InvariantCulture)} requests/month");
        if (facts.UseCase is not null) parts.Add($"use case {facts.UseCase}");
        if (facts.SavingsGoalPercent is { } g) parts.Add($"goal: cut costs by {g.ToString("0.#", CultureInfo.InvariantCulture)}%");
        if (facts.LatencyP95Ms is { } l) parts.Add($"p95 latency {l:N0} ms");
        if (facts.LatencyTargetMs is { } t) parts.Add($"latency target {t:N0} ms");
        text.Append(parts.Count == 0 ? "no figures I could use" : string.Join("; ", parts)).Append(".\n\n");
        if (summary.CostUsd <= 0)
        {
            text.Append("I could not estimate your spend from the message: tell me the monthly spend or request volume and the model, or upload a usage export.\n\n");
        }
    }

    private static void WriteCostBreakdown(StringBuilder text, OptimizationReport report)
    {
        var c = report.CostAnalysis;
        text.Append(CultureInfo.InvariantCulture, $"Where the money goes (monthly, scaled from {c.PeriodDays} day(s) of data, {c.Calls:N0} calls):\n");
        foreach (var m in c.ByModel.Take(5))
        {
            text.Append(CultureInfo.InvariantCulture, $"- {m.Model}: {ReportBuilder.Usd(m.MonthlyCostUsd)} ({SavingsPlanner.Percent(m.Share)})");
            if (m.P95LatencyMs is { } p95)
            {
                text.Append(CultureInfo.InvariantCulture, $", p95 latency {p95:N0} ms");
            }

            text.Append('\n');
        }

        if (c.ByFeature.Count > 0)
        {
            text.Append("By feature:\n");
            foreach (var f in c.ByFeature.Take(5))
            {
                text.Append(CultureInfo.InvariantCulture, $"- {f.Feature}: {ReportBuilder.Usd(f.MonthlyCostUsd)} ({SavingsPlanner.Percent(f.Share)})\n");
            }
        }

        if (c.UnpricedCalls is { } unpriced)
        {
            text.Append(CultureInfo.InvariantCulture, $"{unpriced:N0} calls use models missing from the price catalog and have no cost_usd: they are counted as calls but left out of the dollar figures.\n");
        }

        text.Append('\n');
    }

    private static void WriteLatency(StringBuilder text, RequestFacts facts, OptimizationReport report, UsageAnalyzer? analyzer)
    {
        var slowest = report.CostAnalysis.ByFeature.Where(f => f.P95LatencyMs is not null).OrderByDescending(f => f.P95LatencyMs).Take(3).ToList();
        if (analyzer?.Summary is { P95LatencyMs: { } p95 } summary)
        {
            text.Append(CultureInfo.InvariantCulture, $"Latency: overall p50 {summary.P50LatencyMs:N0} ms, p95 {p95:N0} ms");
            if (facts.LatencyTargetMs is { } target)
            {
                text.Append(CultureInfo.InvariantCulture, $" against your target of {target:N0} ms");
            }

            text.Append(".\n");
        }

        foreach (var f in slowest)
        {
            text.Append(CultureInfo.InvariantCulture, $"- {f.Feature}: p95 {f.P95LatencyMs:N0} ms\n");
        }

        text.Append("Cached repeats answer in milliseconds instead of seconds, max_tokens caps shorten the slowest answers, and a smaller model of the same tier usually answers faster; streaming the answer cuts the time to first token.\n\n");
    }

    private static void WriteQuality(StringBuilder text, ModelsResult models)
    {
        var options = models.Groups.Where(g => g.Best is not null)
            .OrderByDescending(g => g.Best!.QualityChange).ThenByDescending(g => g.Best!.SavingsUsd).Take(5).ToList();
        if (options.Count == 0)
        {
            return;
        }

        text.Append("Moving to a smaller model, least quality risk first:\n");
        foreach (var g in options)
        {
            var b = g.Best!;
            text.Append(CultureInfo.InvariantCulture, $"- {g.Feature} ({g.Model} -> {b.Model}): {(b.QualityChange == 0 ? "same quality tier" : "one tier smaller")}.\n");
        }

        text.Append('\n');
    }
}
