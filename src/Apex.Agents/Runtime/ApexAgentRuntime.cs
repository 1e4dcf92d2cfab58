using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using Apex.Agents.Analysis;
using Apex.Agents.Catalog;
using Apex.Agents.Data;
using Apex.Agents.Planning;
using Apex.Agents.Reports;
using Apex.Agents.Tools;
using Apex.Contracts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Apex.Agents.Runtime;

/// <summary>
/// The <c>apex</c> agent: triage, cost analysis, optimisation and reporting as visible sub-agents.
/// The work runs on its own task and writes events to a channel, so tool callbacks of a model
/// provider and the built-in planner report the same way; the caller reads them in order.
/// </summary>
internal sealed partial class ApexAgentRuntime : IAgentRuntime
{
    public const string Triage = "triage";
    public const string CostAnalyst = "cost_analyst";
    public const string Optimizer = "optimizer";
    public const string Reporter = "reporter";

    private readonly IUsageDataSource _data;
    private readonly PriceCatalog _catalog;
    private readonly AgentOptions _options;
    private readonly IModelProvider? _provider;
    private readonly ToolSet _tools;
    private readonly ILogger<ApexAgentRuntime> _logger;

    public ApexAgentRuntime(IUsageDataSource data, PriceCatalog catalog, IOptions<AgentOptions> options, ToolSet tools,
        ILogger<ApexAgentRuntime> logger, IModelProvider? provider = null)
    {
        _data = data;
        _catalog = catalog;
        _options = options.Value;
        _tools = tools;
        _logger = logger;
        _provider = provider;
    }

    public async IAsyncEnumerable<AgentEvent> RunAsync(AgentRunRequest request, [EnumeratorCancellation] CancellationToken ct)
    {
        var channel = Channel.CreateUnbounded<AgentEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });
        var run = new Run(this, request, channel.Writer);
        var work = Task.Run(async () =>
        {
            try
            {
                await run.ExecuteAsync(ct);
                channel.Writer.TryComplete();
            }
            catch (Exception e)
            {
                channel.Writer.TryComplete(e);
            }
        }, CancellationToken.None);

        await foreach (var e in channel.Reader.ReadAllAsync(ct))
        {
            yield return e;
        }

        await work;
        // Completion with an exception surfaces it to the reader (ReadAllAsync rethrows it).
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Warning, Message = "Model provider failed for run {RunId} ({Reason}); the built-in planner finishes the run")]
    private partial void LogProviderFallback(string runId, string reason);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Error, Message = "Agent run {RunId} failed")]
    private partial void LogRunFailed(Exception exception, string runId);

    /// <summary>One run's state and event writer.</summary>
    private sealed class Run : IRunScope
    {
        private readonly ApexAgentRuntime _rt;
        private readonly ChannelWriter<AgentEvent> _events;
        private readonly Dictionary<string, int> _steps = [];
        private readonly string _messageId = ApexIds.New(ApexIds.Message);
        private readonly ActivityContext _trace;
        private int _toolCalls;

        public Run(ApexAgentRuntime runtime, AgentRunRequest request, ChannelWriter<AgentEvent> events)
        {
            _rt = runtime;
            _events = events;
            _trace = request.TraceParent ?? Activity.Current?.Context ?? default;
            Context = new RunContext { Request = request, Catalog = runtime._catalog, Options = runtime._options.Analysis };
        }

        public RunContext Context { get; }

        /// <summary>The error of the last tool call that failed.</summary>
        public string? LastToolError { get; private set; }

        /// <summary>Set when no dataset was attached and the user's latest upload was used.</summary>
        private bool _usedLatestUpload;

        /// <summary>Set when the model provider failed and the built-in planner took over.</summary>
        public string? FallbackReason { get; private set; }

        public void Emit(AgentEvent e) => _events.TryWrite(e);

        public void Think(string agent, string reasoning, double? progress)
        {
            var step = _steps[agent] = _steps.GetValueOrDefault(agent) + 1;
            Emit(AgentEvent.Thinking(agent, reasoning, step, progress));
        }

        public void Think(string agent, string reasoning) => Think(agent, reasoning, null);

        public void Say(string agent, string text)
        {
            // Line-sized deltas: the client renders the answer as it arrives.
            var start = 0;
            while (start < text.Length)
            {
                var end = text.IndexOf('\n', start);
                end = end < 0 ? text.Length : end + 1;
                Emit(AgentEvent.MessageDelta(agent, _messageId, text[start..end]));
                start = end;
            }
        }

        public void SayDelta(string agent, string delta) => Emit(AgentEvent.MessageDelta(agent, _messageId, delta));

        /// <summary>One tool call: a tool_executing/tool_completed pair with the same id.</summary>
        public async Task<object?> CallToolAsync(string toolName, JsonElement arguments, CancellationToken ct)
        {
            var tool = _rt._tools[toolName];
            var id = $"call_{Interlocked.Increment(ref _toolCalls):D3}";
            Emit(AgentEvent.ToolExecuting(tool.Agent, id, tool.Name, arguments));
            using var span = AgentTelemetry.StartTool(tool.Name, tool.Agent, id, _trace);
            var watch = Stopwatch.StartNew();
            try
            {
                var result = await tool.ExecuteAsync(Context, arguments, ct);
                Emit(AgentEvent.ToolCompleted(tool.Agent, id, tool.Name, result, watch.ElapsedMilliseconds, ok: true));
                return result;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception e) when (e is InvalidDataException or InvalidOperationException or ArgumentException or JsonException or OverflowException)
            {
                span?.SetStatus(ActivityStatusCode.Error, e.Message);
                Emit(AgentEvent.ToolCompleted(tool.Agent, id, tool.Name, null, watch.ElapsedMilliseconds, ok: false, error: e.Message));
                LastToolError = e.Message;
                return null;
            }
        }

        public Task<object?> CallToolAsync(string toolName, CancellationToken ct) => CallToolAsync(toolName, EmptyArgs, ct);

        private static readonly JsonElement EmptyArgs = JsonDocument.Parse("{}").RootElement.Clone();

        public async Task<T> SubAgentAsync<T>(string agent, string message, Func<Task<(T Value, object Result)>> body)
        {
            Emit(AgentEvent.Started(agent, message, AgentEvent.TopAgent));
            using var span = AgentTelemetry.StartAgent(agent, _trace);
            var watch = Stopwatch.StartNew();
            try
            {
                var (value, result) = await body();
                Emit(AgentEvent.Completed(agent, "completed", result, watch.ElapsedMilliseconds));
                return value;
            }
            catch (Exception e) when (AgentTelemetry.Failed(span, e))
            {
                throw;
            }
        }

        public async Task ExecuteAsync(CancellationToken ct)
        {
            var watch = Stopwatch.StartNew();
            var request = Context.Request;
            Emit(AgentEvent.Started(AgentEvent.TopAgent, "Working on your request."));
            Think(AgentEvent.TopAgent, "Reading the request and planning the work: triage, then cost analysis, optimisation and the report.", 0.05);
            try
            {
                var noUpload = false;
                var facts = await SubAgentAsync(Triage, "Working out what is asked and what data there is.", async () =>
                {
                    await CallToolAsync("parse_request", ct);
                    var f = Context.Facts!;
                    if (f.Intent == RequestIntent.Analysis)
                    {
                        noUpload = !await ResolveDatasetAsync(ct);
                    }
                    else if (f.Intent == RequestIntent.OffTopic && (request.DatasetId is not null || request.LastReport is not null))
                    {
                        // "Explain recommendation 3" or "Exclude report-gen" name no AI-usage word; in a thread
                        // about data they are follow-ups all the same.
                        await ResolveDatasetAsync(ct);
                        if (Context.FollowUp is null)
                        {
                            (Context.Dataset, Context.Table, Context.Analyzer, Context.LastReport) = (null, null, null, null);
                        }
                        else
                        {
                            f = Context.Facts = f with { Intent = RequestIntent.Analysis, Focus = ["cost"] };
                        }
                    }

                    Think(Triage, Describe(f, Context.Dataset), 0.15);
                    if (Context.FollowUp is { } followUp)
                    {
                        Think(Triage, $"A follow-up on the same data: a {FollowUpWriter.KindText(followUp.Kind)}, answered by {(followUp.Tool is { } tool ? $"the {tool} tool" : "the analysis on the kept rows")}" +
                            (Context.LastReport is null ? "." : ", consistent with the thread's last report."), 0.2);
                    }

                    return (f, (object)new TriageResult(f.Intent, Context.Dataset?.Id, Context.Dataset?.Rows, f.Focus, Context.FollowUp?.Kind));
                });

                if (facts.Intent != RequestIntent.Analysis)
                {
                    var answer = facts.Intent switch
                    {
                        RequestIntent.Greeting when RequestParser.IsThanks(Context.Request.UserText) => AnswerWriter.Thanks(ReadReport(Context.Request.LastReport)?.FollowUps ?? []),
                        RequestIntent.Greeting => AnswerWriter.Greeting(),
                        RequestIntent.Capabilities => AnswerWriter.Capabilities,
                        _ => AnswerWriter.OffTopic(),
                    };
                    Say(AgentEvent.TopAgent, answer);
                    Emit(AgentEvent.Completed(AgentEvent.TopAgent, "completed", new TopResult(facts.Intent, null, false, "builtin", null), watch.ElapsedMilliseconds, final: true));
                    return;
                }

                if (request.DatasetId is not null && Context.Dataset is null)
                {
                    Emit(AgentEvent.Error(AgentEvent.TopAgent, "not_found", "The dataset attached to this message no longer exists.", final: true));
                    return;
                }

                if (noUpload)
                {
                    Say(AgentEvent.TopAgent, FollowUpWriter.NoUpload());
                    Emit(AgentEvent.Completed(AgentEvent.TopAgent, "completed", new NoUploadResult("needs_upload", null), watch.ElapsedMilliseconds, final: true));
                    return;
                }

                if (Context.FollowUp is { Tool: not null } question)
                {
                    var result = await FollowUpAsync(question, facts, ct);
                    Emit(AgentEvent.Completed(AgentEvent.TopAgent, "completed", result, watch.ElapsedMilliseconds, final: true));
                    return;
                }

                var report = await AnalyseAsync(facts, ct);
                Emit(AgentEvent.Completed(AgentEvent.TopAgent, "completed",
                    new TopResult(facts.Intent, Context.Dataset?.Id, report.Estimate, _rt._provider is null ? "builtin" : "openai", FallbackReason),
                    watch.ElapsedMilliseconds, final: true, report: report));
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception e) when (e is InvalidDataException or IOException or InvalidOperationException)
            {
                _rt.LogRunFailed(e, request.RunId);
                Emit(AgentEvent.Error(AgentEvent.TopAgent, "analysis_failed", "The analysis could not be completed; the stored dataset may be damaged. Upload it again.", final: true));
            }
        }

        private async Task<OptimizationReport> AnalyseAsync(RequestFacts facts, CancellationToken ct)
        {
            var provider = _rt._provider;
            var hasData = Context.Dataset is not null;

            // Cost analyst: load the rows, then where the spend goes.
            await SubAgentAsync(CostAnalyst, hasData ? "Measuring where the spend and latency go." : "Estimating spend from the facts in your message.", async () =>
            {
                if (Context.FollowUp is { Kind: FollowUpKind.Filter } && Context.Table is not null)
                {
                    Think(CostAnalyst, "Keeping only the rows the question asks about, then analysing them.", 0.25);
                    await CallToolAsync("filter_usage", ct);
                }

                string[] tools = hasData ? ["summarize_usage", "find_repeated_prompts", "find_waste"] : ["summarize_usage"];
                await RunPhaseAsync(CostAnalyst, tools, facts, ct);
                var summary = Context.Analyzer?.Summary ?? Context.FactsSummary!;
                Think(CostAnalyst, $"Monthly run-rate {ReportBuilder.Usd(ReportBuilder.Cents(summary.MonthlyCostUsd))} over {summary.Calls:N0} calls.", 0.45);
                return (0, (object)new { monthly_cost_usd = ReportBuilder.Cents(summary.MonthlyCostUsd), calls = summary.Calls });
            });

            // Optimizer: what to change, applied in plan order.
            var plan = await SubAgentAsync(Optimizer, "Finding what to change and what each change saves.", async () =>
            {
                string[] tools = hasData ? ["recommend_models", "estimate_prompt_caching", "estimate_batching"] : ["recommend_models"];
                await RunPhaseAsync(Optimizer, tools, facts, ct);
                IReadOnlyList<PlannedRecommendation> planned;
                if (Context.Analyzer is { } a)
                {
                    Think(Optimizer, "Applying the changes in plan order, each on what the previous ones leave, so no saving is counted twice.", 0.7);
                    planned = SavingsPlanner.Plan(a, ct);
                }
                else
                {
                    planned = Context.FactsRecommendation is { } r ? [r] : [];
                }

                return (planned, (object)new { recommendations = planned.Count, ids = planned.Select(p => p.Id).ToArray() });
            });

            // Reporter: the report and the answer.
            return await SubAgentAsync(Reporter, "Writing the report and the answer.", async () =>
            {
                var estimate = Context.Analyzer is null;
                var summary = Context.Analyzer?.Summary ?? Context.FactsSummary!;
                var assumptions = ReportBuilder.BaseAssumptions(_rt._catalog, summary.PeriodDays, estimate);
                if (estimate)
                {
                    assumptions.Insert(0, "No usage data attached: figures are estimates from the facts in the message and list prices, not measurements.");
                }

                assumptions.AddRange(facts.Assumptions);
                assumptions.AddRange(Context.Assumptions);
                if (Context.Dataset is { CostOnly: true })
                {
                    assumptions.Add("This dataset is a cost-only export (spend per model or line item, no token counts or calls): the spend breakdown comes from its cost lines, and per-call advice (model switches, caching, batching, failed calls) needs a usage export instead (OpenAI: Usage → Activity export; Anthropic: Console usage export).");
                }

                if (Context.Analyzer is { } a)
                {
                    if (a.Summary?.UnpricedCalls > 0)
                    {
                        assumptions.Add($"{a.Summary.UnpricedCalls:N0} calls of models missing from the catalog have no cost_usd: their cost is unknown and left out of all dollar figures (not counted as $0).");
                    }

                    if (a.Caching?.EligibleCalls > 0)
                    {
                        assumptions.Add($"Prompt caching assumes {a.Caching.PrefixShare:P0} of a long prompt's uncached input is a stable prefix.");
                    }

                    if (a.Repeats is { } rep)
                    {
                        assumptions.Add($"Exact repeats use a cache TTL of {rep.TtlHours:0.##} h.");
                    }
                }

                if (FallbackReason is not null)
                {
                    assumptions.Add($"The configured model provider failed ({FallbackReason}); the built-in planner completed the analysis and wrote the answer.");
                }

                if (Context.Analyzer is { ReasoningOffered: true } priced)
                {
                    assumptions.Add(priced.Reasoning.Assumption);
                }

                var report = ReportBuilder.Build(summary, Context.Analyzer?.Table.MonthlyFactor ?? 1, plan, assumptions, estimate);
                if (Context.Analyzer is { } analysed)
                {
                    report = report with
                    {
                        DatasetId = Context.Dataset?.Id,
                        Filters = Context.Filter,
                        // The models in use are the summary's: no second pass over the rows.
                        Notes = FollowUps.RetiredNotes(summary.ByModel.Select(g => _rt._catalog.Find(g.Name)).OfType<ModelPrice>(), _rt._catalog),
                        CostAnalysis = report.CostAnalysis with
                        {
                            Daily = CostTrend.Points(analysed.Table, _rt._catalog, hourly: false, null, null, null, null, ct),
                        },
                    };
                }

                else
                {
                    report = report with { Notes = FollowUps.RetiredNotes(facts.Models.Select(_rt._catalog.Find).OfType<ModelPrice>(), _rt._catalog) };
                }

                report = report with { FollowUps = FollowUpParser.Suggest(report) };
                Think(Reporter, "Writing the answer from the report's figures.", 0.9);
                if (provider is not null && FallbackReason is null)
                {
                    if (Opening() is { Length: > 0 } opening)
                    {
                        Say(Reporter, opening);
                    }

                    await WriteWithModelAsync(provider, report, facts, ct);
                }

                if (provider is null || FallbackReason is not null)
                {
                    Say(Reporter, Opening() + AnswerWriter.Write(report, facts, summary, Context.Analyzer));
                }

                return (report, (object)new { summary = report.Summary });
            });
        }

        /// <summary>Runs a sub-agent's tools: planned by the model when one is configured, else all of them in order.</summary>
        private async Task RunPhaseAsync(string agent, string[] tools, RequestFacts facts, CancellationToken ct)
        {
            var called = new HashSet<string>();
            if (_rt._provider is { } provider && FallbackReason is null)
            {
                try
                {
                    await provider.RunToolPhaseAsync(this, agent, tools, facts, called, ct);
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    Fallback(e);
                }
            }

            foreach (var tool in tools.Where(t => !called.Contains(t)))
            {
                if (_rt._provider is not null && FallbackReason is null)
                {
                    Think(agent, $"The model did not call {tool}; the built-in planner runs it so the report is complete.");
                }

                await CallToolAsync(tool, ct);
            }
        }

        /// <summary>What the answer says first about the data it used: the latest upload, a filter.</summary>
        private string Opening()
        {
            if (_openingSaid)
            {
                return string.Empty;
            }

            _openingSaid = true;
            return (_usedLatestUpload && Context.Dataset is { } info ? FollowUpWriter.UsedLatestUpload(info) : string.Empty)
                + (Context.Filter is { } filter ? FollowUpWriter.Filtered(filter) : string.Empty);
        }

        private bool _openingSaid;

        /// <summary>
        /// The dataset of the run: the message's or the thread's, else the one the thread's last report
        /// was about, else (when the message refers to an upload) the user's latest upload. Loads its
        /// rows and recognises a follow-up. False when the message refers to an upload the user does not have.
        /// </summary>
        private async Task<bool> ResolveDatasetAsync(CancellationToken ct)
        {
            var request = Context.Request;
            var last = ReadReport(request.LastReport);
            if (request.DatasetId is { } datasetId)
            {
                Context.Dataset = await _rt._data.GetInfoAsync(request.UserId, datasetId, ct);
                if (Context.Dataset is null)
                {
                    return true;
                }
            }
            else if (last?.DatasetId is { } reportDataset)
            {
                Context.Dataset = await _rt._data.GetInfoAsync(request.UserId, reportDataset, ct);
            }

            if (request.DatasetId is null && RequestParser.RefersToUpload(request.UserText))
            {
                // Nothing attached, and the message is about an upload: the latest one, unless the thread's
                // last report is already about it (or about a newer one).
                var latest = await _rt._data.LatestAsync(request.UserId, ct);
                if (latest is null && Context.Dataset is null)
                {
                    Think(Triage, "The message refers to an uploaded file, but there is no upload on this account.");
                    return false;
                }

                if (latest is not null && (Context.Dataset is null || (latest.Id != Context.Dataset.Id && latest.CreatedAt >= Context.Dataset.CreatedAt)))
                {
                    Context.Dataset = latest;
                    _usedLatestUpload = true;
                    Think(Triage, $"No file is attached to the conversation; the message refers to an upload, so I use the latest one: {latest.Name}.");
                }
            }

            if (Context.Dataset is not { } info)
            {
                return true;
            }

            // A report about other data (or an estimate) is no reference for questions about this one.
            Context.LastReport = last is not null && last.DatasetId == info.Id ? last : null;
            Think(Triage, $"Loading {info.Rows:N0} rows of dataset {info.Name}.", 0.12);
            Context.Table = await UsageTable.LoadAsync(_rt._data, request.UserId, info.Id, info.Rows, _rt._catalog, ct);
            Context.Analyzer = new UsageAnalyzer(Context.Table, _rt._catalog, _rt._options.Analysis);
            Context.FollowUp = FollowUpParser.Parse(request.UserText, Vocabulary(Context.Table, Context.LastReport), _rt._catalog);
            if (Context.FollowUp is { Tool: not null } && Context.LastReport?.Filters is { } scope)
            {
                // A follow-up on a filtered report is about the same rows; a new filter starts from the whole dataset.
                var (kept, applied) = scope.ToFilter().Apply(Context.Table, _rt._catalog, ct);
                if (kept.Count > 0)
                {
                    Context.Filter = applied;
                    Context.Analyzer = new UsageAnalyzer(kept, _rt._catalog, _rt._options.Analysis);
                    Think(Triage, $"The last report covers {applied.Description}; the follow-up uses the same rows.");
                }
            }

            if (info.Kind == UsageDatasetKinds.Live && Context.Filter is null && Context.Table.Count > 0)
            {
                // A live dataset grows for as long as the key is used: its recent days describe the traffic
                // as it runs now, so the analysis takes the last week of it unless the question names a range.
                var lastDay = Context.Table.EndMs / 86_400_000;
                var recent = new RowFilter { From = RowFilter.DayText(lastDay - (UsageDatasetKinds.LiveAnalysisDays - 1)) };
                var (kept, applied) = recent.Apply(Context.Table, _rt._catalog, ct);
                if (kept.Count > 0)
                {
                    Context.Filter = applied;
                    Context.Analyzer = new UsageAnalyzer(kept, _rt._catalog, _rt._options.Analysis);
                    Think(Triage, $"{info.Name} is live usage: I analyse its last {UsageDatasetKinds.LiveAnalysisDays} days ({applied.Description}).");
                }
            }

            return true;
        }

        private static OptimizationReport? ReadReport(JsonElement? report)
        {
            if (report is not { ValueKind: JsonValueKind.Object } element)
            {
                return null;
            }

            try
            {
                return element.Deserialize<OptimizationReport>(ApexJson.Options);
            }
            catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
            {
                // Not a report of this agent (or an older shape): answer without it.
                return null;
            }
        }

        private static FollowUpVocabulary Vocabulary(UsageTable table, OptimizationReport? last)
        {
            var rows = table.Rows;
            // Cost per string id, NaN for an id that is no feature (or no model): names costliest first.
            var feature = new double[rows.Strings.Count];
            var model = new double[rows.Strings.Count];
            Array.Fill(feature, double.NaN);
            Array.Fill(model, double.NaN);
            for (var i = 0; i < rows.Count; i++)
            {
                feature[rows.Feature[i]] = (double.IsNaN(feature[rows.Feature[i]]) ? 0 : feature[rows.Feature[i]]) + rows.Cost[i];
                model[rows.Model[i]] = (double.IsNaN(model[rows.Model[i]]) ? 0 : model[rows.Model[i]]) + rows.Cost[i];
            }

            IReadOnlyList<string> Costliest(double[] cost) =>
                [.. Enumerable.Range(1, rows.Strings.Count - 1).Where(s => !double.IsNaN(cost[s])).OrderByDescending(s => cost[s]).ThenBy(s => s).Select(table.Text)];

            return new FollowUpVocabulary
            {
                Recommendations = last?.Recommendations ?? [],
                Features = Costliest(feature),
                Models = Costliest(model),
                LastDay = rows.Count == 0 ? null : Analysis.RowFilter.DayText(table.EndMs / 86_400_000),
                HasReport = last is not null,
            };
        }

        /// <summary>A follow-up answered by its tool (planned by the model when one is configured), then the answer from the tool's result.</summary>
        private async Task<FollowUpTopResult> FollowUpAsync(FollowUp question, RequestFacts facts, CancellationToken ct)
        {
            var tool = _rt._tools[question.Tool!];
            var message = question.Kind switch
            {
                _ when question.AbsentChange is not null => "Looking for that change in the analysis: the last plan does not contain it.",
                FollowUpKind.WhatIf => "Applying only the chosen changes, in plan order, on the same data.",
                FollowUpKind.ExplainRecommendation => "Collecting the evidence behind the recommendation.",
                FollowUpKind.CostTrend => "Building the cost series.",
                FollowUpKind.CompareModels => "Pricing the same calls at each model.",
                FollowUpKind.CostBreakdown => "Splitting the spend by model and by feature.",
                _ => "Measuring latency from successful calls, failed calls apart.",
            };
            await SubAgentAsync(tool.Agent, message, async () =>
            {
                if (_rt._provider is { } provider && FallbackReason is null)
                {
                    try
                    {
                        await provider.RunToolPhaseAsync(this, tool.Agent, FollowUpTools.Names, facts, [], ct);
                    }
                    catch (Exception e) when (!ct.IsCancellationRequested)
                    {
                        Fallback(e);
                    }
                }

                if (!Context.FollowUpResults.Any(r => r.Kind == question.Kind))
                {
                    if (_rt._provider is not null && FallbackReason is null)
                    {
                        Think(tool.Agent, $"The model did not call {tool.Name}; the built-in planner runs it.");
                    }

                    await CallToolAsync(tool.Name, ct);
                }

                return (0, (object)new { tool = tool.Name });
            });

            return await SubAgentAsync(Reporter, "Writing the answer from the tool's figures.", async () =>
            {
                await Task.CompletedTask;
                // The question's own tool answers it; a model that called only another follow-up tool is answered from that one.
                var (kind, result) = Context.FollowUpResults.LastOrDefault(r => r.Kind == question.Kind) is { Result: not null } own
                    ? own
                    : Context.FollowUpResults.LastOrDefault();
                string text;
                if (result is null)
                {
                    kind = question.Kind;
                    text = FollowUpWriter.Failed(kind, LastToolError);
                }
                else
                {
                    text = FollowUpWriter.Write(kind, result);
                }

                if (FallbackReason is not null)
                {
                    text += $"\n(The configured model provider failed ({FallbackReason}); the built-in planner answered.)\n";
                }

                Say(Reporter, Opening() + text);
                var followUps = (Context.LastReport?.FollowUps ?? []).Where(q => !string.Equals(q.Trim(), Context.Request.UserText.Trim(), StringComparison.OrdinalIgnoreCase)).ToList();
                var top = new FollowUpTopResult("follow_up", kind, Context.Dataset?.Id, followUps, result as TrendResult,
                    _rt._provider is null ? "builtin" : "openai", FallbackReason, result is null ? LastToolError : null);
                return (top, (object)new { kind });
            });
        }

        private async Task WriteWithModelAsync(IModelProvider provider, OptimizationReport report, RequestFacts facts, CancellationToken ct)
        {
            var wrote = false;
            try
            {
                await provider.WriteAnswerAsync(this, report, facts, delta =>
                {
                    wrote = true;
                    SayDelta(Reporter, delta);
                }, ct);
                // The model writes prose; the figures below come from the report, so the answer always states them.
                Say(Reporter, "\n\n" + AnswerWriter.Figures(report));
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                Fallback(e);
                if (wrote)
                {
                    Say(Reporter, "\n\n(The model stopped answering; the built-in planner's answer follows.)\n\n");
                }
            }
        }

        private void Fallback(Exception e)
        {
            FallbackReason = e switch
            {
                OperationCanceledException or TimeoutException => $"no answer within {_rt._options.TimeoutSeconds} s",
                System.ClientModel.ClientResultException { Status: > 0 } c => $"HTTP {c.Status}",
                HttpRequestException { StatusCode: { } status } => $"HTTP {(int)status}",
                HttpRequestException => "connection failed",
                _ => "unexpected response",
            };
            _rt.LogProviderFallback(Context.Request.RunId, FallbackReason);
            Think(AgentEvent.TopAgent, $"The model provider failed ({FallbackReason}); continuing with the built-in planner.");
        }

        private static string Describe(RequestFacts f, UsageDatasetInfo? dataset)
        {
            if (f.Intent != RequestIntent.Analysis)
            {
                return f.Intent == RequestIntent.OffTopic ? "The question is not about AI usage, cost, latency or quality." : "A greeting or a question about what I can do.";
            }

            var data = dataset is null ? "No dataset attached: I will estimate from the facts in the message." : $"Dataset {dataset.Name}: {dataset.Rows:N0} rows.";
            return $"Asked about {string.Join(", ", f.Focus)}. {data}";
        }
    }

    private sealed record TriageResult(RequestIntent Intent, string? DatasetId, int? Rows, IReadOnlyList<string> Focus, FollowUpKind? FollowUp);

    /// <summary>The final result of a follow-up (contract D): no report; the trend for a cost_trend.</summary>
    private sealed record FollowUpTopResult(string Intent, FollowUpKind Kind, string? DatasetId, IReadOnlyList<string> FollowUps, TrendResult? Trend,
        string Provider, string? Fallback, string? Error);

    private sealed record NoUploadResult(string Intent, string? DatasetId);

    private sealed record TopResult(RequestIntent Intent, string? DatasetId, bool Estimate, string Provider, string? Fallback);
}
