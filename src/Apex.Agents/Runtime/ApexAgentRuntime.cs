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
        private int _toolCalls;

        public Run(ApexAgentRuntime runtime, AgentRunRequest request, ChannelWriter<AgentEvent> events)
        {
            _rt = runtime;
            _events = events;
            Context = new RunContext { Request = request, Catalog = runtime._catalog, Options = runtime._options.Analysis };
        }

        public RunContext Context { get; }

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
                Emit(AgentEvent.ToolCompleted(tool.Agent, id, tool.Name, null, watch.ElapsedMilliseconds, ok: false, error: e.Message));
                return null;
            }
        }

        public Task<object?> CallToolAsync(string toolName, CancellationToken ct) => CallToolAsync(toolName, EmptyArgs, ct);

        private static readonly JsonElement EmptyArgs = JsonDocument.Parse("{}").RootElement.Clone();

        public async Task<T> SubAgentAsync<T>(string agent, string message, Func<Task<(T Value, object Result)>> body)
        {
            Emit(AgentEvent.Started(agent, message, AgentEvent.TopAgent));
            var watch = Stopwatch.StartNew();
            var (value, result) = await body();
            Emit(AgentEvent.Completed(agent, "completed", result, watch.ElapsedMilliseconds));
            return value;
        }

        public async Task ExecuteAsync(CancellationToken ct)
        {
            var watch = Stopwatch.StartNew();
            var request = Context.Request;
            Emit(AgentEvent.Started(AgentEvent.TopAgent, "Working on your request."));
            Think(AgentEvent.TopAgent, "Reading the request and planning the work: triage, then cost analysis, optimisation and the report.", 0.05);
            try
            {
                var facts = await SubAgentAsync(Triage, "Working out what is asked and what data there is.", async () =>
                {
                    await CallToolAsync("parse_request", ct);
                    var f = Context.Facts!;
                    if (request.DatasetId is { } datasetId && f.Intent == RequestIntent.Analysis)
                    {
                        Context.Dataset = await _rt._data.GetInfoAsync(request.UserId, datasetId, ct);
                    }

                    Think(Triage, Describe(f, Context.Dataset), 0.15);
                    return (f, (object)new TriageResult(f.Intent, Context.Dataset?.Id, Context.Dataset?.Rows, f.Focus));
                });

                if (facts.Intent != RequestIntent.Analysis)
                {
                    var answer = facts.Intent switch
                    {
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
                if (Context.Dataset is { } info)
                {
                    Think(CostAnalyst, $"Loading {info.Rows:N0} rows of dataset {info.Name}.", 0.2);
                    var table = await UsageTable.LoadAsync(_rt._data, Context.Request.UserId, info.Id, info.Rows, _rt._catalog, ct);
                    Context.Analyzer = new UsageAnalyzer(table, _rt._catalog, _rt._options.Analysis);
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

                var report = ReportBuilder.Build(summary, Context.Analyzer?.Table.MonthlyFactor ?? 1, plan, assumptions, estimate);
                Think(Reporter, "Writing the answer from the report's figures.", 0.9);
                if (provider is not null && FallbackReason is null)
                {
                    await WriteWithModelAsync(provider, report, facts, ct);
                }

                if (provider is null || FallbackReason is not null)
                {
                    Say(Reporter, AnswerWriter.Write(report, facts, summary, Context.Analyzer));
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

    private sealed record TriageResult(RequestIntent Intent, string? DatasetId, int? Rows, IReadOnlyList<string> Focus);

    private sealed record TopResult(RequestIntent Intent, string? DatasetId, bool Estimate, string Provider, string? Fallback);
}
