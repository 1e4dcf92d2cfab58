using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Apex.Agents.Catalog;
using Apex.Agents.Data;
using Apex.Agents.Runtime;
using Apex.Agents.Tools;
using Apex.Contracts;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Apex.Agents.Tests;

/// <summary>Datasets held in memory in the stored chunk format, scoped by owner like the database store.</summary>
internal sealed class InMemoryUsageDataSource : IUsageDataSource
{
    private readonly Dictionary<(string User, string Id), (UsageDatasetInfo Info, List<byte[]> Chunks)> _sets = [];

    /// <summary>Optional pause per chunk read, to keep a run inside its data loading.</summary>
    public TimeSpan ChunkDelay { get; set; }

    public string Add(string userId, UsageParseResult parsed, string name = "usage.csv")
    {
        Assert.Null(parsed.Error);
        var id = ApexIds.New(ApexIds.Dataset);
        var info = new UsageDatasetInfo
        {
            Id = id, Name = name, Rows = parsed.Rows, Columns = parsed.Columns, PeriodStart = parsed.PeriodStart, PeriodEnd = parsed.PeriodEnd,
            Warnings = parsed.Warnings, CreatedAt = DateTimeOffset.UtcNow,
        };
        _sets[(userId, id)] = (info, parsed.Chunks);
        return id;
    }

    public Task<bool> ExistsAsync(string userId, string datasetId, CancellationToken ct) => Task.FromResult(_sets.ContainsKey((userId, datasetId)));

    public Task<UsageDatasetInfo?> LatestAsync(string userId, CancellationToken ct) =>
        Task.FromResult(_sets.Where(kv => kv.Key.User == userId).Select(kv => kv.Value.Info)
            .OrderByDescending(i => i.CreatedAt).ThenByDescending(i => i.Id, StringComparer.Ordinal).FirstOrDefault());

    public Task<UsageDatasetInfo?> GetInfoAsync(string userId, string datasetId, CancellationToken ct) =>
        Task.FromResult(_sets.TryGetValue((userId, datasetId), out var set) ? set.Info : null);

    public async IAsyncEnumerable<byte[]> ReadChunksAsync(string userId, string datasetId, [EnumeratorCancellation] CancellationToken ct)
    {
        if (!_sets.TryGetValue((userId, datasetId), out var set))
        {
            yield break;
        }

        foreach (var chunk in set.Chunks)
        {
            if (ChunkDelay > TimeSpan.Zero)
            {
                await Task.Delay(ChunkDelay, ct);
            }

            yield return chunk;
        }
    }
}

internal static class TestSupport
{
    public static readonly DateTimeOffset Now = new(2026, 11, 26, 0, 0, 0, TimeSpan.Zero);

    public static UsageParseResult ParseCsv(string csv, PriceCatalog? catalog = null) =>
        new UsageFileParser(catalog ?? PriceCatalog.LoadBuiltIn(), new FakeTimeProvider(Now)).ParseCsv(new MemoryStream(Encoding.UTF8.GetBytes(csv)), CancellationToken.None);

    public static UsageParseResult ParseBytes(byte[] bytes, PriceCatalog? catalog = null) =>
        new UsageFileParser(catalog ?? PriceCatalog.LoadBuiltIn(), new FakeTimeProvider(Now)).ParseCsv(new MemoryStream(bytes), CancellationToken.None);

    public static IAgentRuntime Runtime(IUsageDataSource data, PriceCatalog? catalog = null, AgentOptions? options = null) =>
        new ApexAgentRuntime(data, catalog ?? PriceCatalog.LoadBuiltIn(), Options.Create(options ?? new AgentOptions()), new ToolSet(),
            NullLogger<ApexAgentRuntime>.Instance);

    public static AgentRunRequest Request(string text, string? datasetId = null, string user = "usr_a") => new()
    {
        RunId = ApexIds.New(ApexIds.Run),
        ThreadId = ApexIds.New(ApexIds.Thread),
        UserId = user,
        UserText = text,
        DatasetId = datasetId,
    };

    public static async Task<List<AgentEvent>> CollectAsync(IAgentRuntime runtime, AgentRunRequest request, CancellationToken ct = default)
    {
        var events = new List<AgentEvent>();
        await foreach (var e in runtime.RunAsync(request, ct))
        {
            events.Add(e);
        }

        return events;
    }

    public static JsonElement Report(List<AgentEvent> events)
    {
        var last = events[^1];
        Assert.Equal(EventTypes.AgentCompleted, last.Type);
        Assert.True(last.IsTerminal);
        return last.Payload.GetProperty("report");
    }

    public static string Answer(List<AgentEvent> events) =>
        string.Concat(events.Where(e => e.Type == EventTypes.AgentMessageDelta).Select(e => e.Payload.GetProperty("delta").GetString()));

    public static List<string> ToolsCalled(List<AgentEvent> events) =>
        [.. events.Where(e => e.Type == EventTypes.ToolExecuting).Select(e => e.Payload.GetProperty("tool_name").GetString()!)];

    /// <summary>The protocol's run rules: apex opens, sub-agents nest under it, tools pair up, one terminal event last.</summary>
    public static void AssertWellFormedRun(List<AgentEvent> events)
    {
        Assert.Equal(EventTypes.AgentStarted, events[0].Type);
        Assert.Equal(AgentEvent.TopAgent, events[0].AgentName);
        Assert.False(events[0].Payload.TryGetProperty("parent_agent", out _));
        Assert.Single(events, e => e.IsTerminal);
        Assert.True(events[^1].IsTerminal);
        var open = new Stack<string>();
        var tools = new Dictionary<string, string>();
        foreach (var e in events.Skip(1).SkipLast(1))
        {
            switch (e.Type)
            {
                case EventTypes.AgentStarted:
                    Assert.Equal(AgentEvent.TopAgent, e.Payload.GetProperty("parent_agent").GetString());
                    open.Push(e.AgentName);
                    break;
                case EventTypes.AgentCompleted:
                    Assert.Equal(open.Pop(), e.AgentName);
                    break;
                case EventTypes.ToolExecuting:
                    tools.Add(e.Payload.GetProperty("tool_call_id").GetString()!, e.Payload.GetProperty("tool_name").GetString()!);
                    break;
                case EventTypes.ToolCompleted:
                    var id = e.Payload.GetProperty("tool_call_id").GetString()!;
                    Assert.Equal(tools[id], e.Payload.GetProperty("tool_name").GetString());
                    Assert.True(e.Payload.GetProperty("duration_ms").GetInt64() >= 0);
                    tools.Remove(id);
                    break;
            }
        }

        Assert.Empty(open);
        Assert.Empty(tools);
    }
}

/// <summary>Tests with time bounds (cancellation, provider timeouts) run one at a time on the shared 2-core machine.</summary>
[CollectionDefinition(Name)]
public sealed class TimingSensitive
{
    public const string Name = "timing-sensitive";
}
