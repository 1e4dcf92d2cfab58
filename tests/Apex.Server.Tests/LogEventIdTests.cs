using System.Reflection;
using Apex.Hosting;
using Microsoft.Extensions.Logging;

namespace Apex.Server.Tests;

/// <summary>Every log event id of every Apex assembly is unique and inside its module's range of the one table.</summary>
public sealed class LogEventIdTests
{
    [Fact(Timeout = 30_000)]
    public Task Every_logger_message_uses_a_distinct_id_from_its_modules_range()
    {
        var seen = new Dictionary<int, string>();
        var problems = new List<string>();
        foreach (var (assemblyName, (first, last)) in LogEventIds.Ranges)
        {
            var assembly = Assembly.Load(assemblyName);
            const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
            var messages = assembly.GetTypes()
                .SelectMany(t => t.GetMethods(all))
                .SelectMany(m => m.GetCustomAttributes<LoggerMessageAttribute>().Select(a => (Method: $"{m.DeclaringType!.FullName}.{m.Name}", a.EventId)));
            foreach (var (method, id) in messages)
            {
                if (id < first || id > last)
                {
                    problems.Add($"{method}: {id} is outside {assemblyName}'s range {first}-{last}");
                }

                if (!seen.TryAdd(id, method))
                {
                    problems.Add($"{method}: {id} is also used by {seen[id]}");
                }
            }
        }

        Assert.Empty(problems);
        // The check found the messages it is about.
        Assert.Contains(seen.Values, m => m.StartsWith("Apex.Realtime.", StringComparison.Ordinal));
        Assert.Contains(seen.Values, m => m.StartsWith("Apex.Chat.Runs.", StringComparison.Ordinal));
        return Task.CompletedTask;
    }

    [Fact(Timeout = 30_000)]
    public Task The_ranges_do_not_overlap()
    {
        var ranges = LogEventIds.Ranges.Values.OrderBy(r => r.First).ToList();
        for (var i = 1; i < ranges.Count; i++)
        {
            Assert.True(ranges[i - 1].Last < ranges[i].First, $"{ranges[i - 1]} overlaps {ranges[i]}");
        }

        return Task.CompletedTask;
    }
}
