using System.Net.Http.Json;
using System.Text.Json;
using Apex.Testing;

namespace Apex.Scale.Tests;

internal static class Rest
{
    /// <summary>Creates a thread and posts a message to it: the run starts on <paramref name="node"/>.</summary>
    public static async Task<(string ThreadId, string RunId)> StartRunAsync(ApexTestServer node, TestUser user, string text = "How can I cut my AI costs?", string title = "scale")
    {
        using var client = node.CreateClient(user);
        using var created = await client.PostAsJsonAsync("/api/threads", new { title });
        Assert.Equal(201, (int)created.StatusCode);
        var threadId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        using var posted = await client.PostAsJsonAsync($"/api/threads/{threadId}/messages", new { content = text });
        var body = await posted.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(202 == (int)posted.StatusCode, body.GetRawText());
        return (threadId, body.GetProperty("run").GetProperty("id").GetString()!);
    }

    public static async Task<JsonElement> GetRunAsync(ApexTestServer node, TestUser user, string runId)
    {
        using var client = node.CreateClient(user);
        using var response = await client.GetAsync($"/api/runs/{runId}");
        Assert.Equal(200, (int)response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>Polls until <paramref name="condition"/> holds or the wait ends; returns whether it held.</summary>
    public static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan wait, int stepMs = 100)
    {
        var deadline = DateTime.UtcNow + wait;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(stepMs);
        }

        return await condition();
    }

    public static string Types(IEnumerable<JsonElement> frames) =>
        string.Join(",", frames.Select(f => f.GetProperty("type").GetString()));
}
