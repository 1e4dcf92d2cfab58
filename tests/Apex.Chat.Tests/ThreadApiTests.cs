using System.Net;
using System.Text.Json;
using Apex.Testing;

namespace Apex.Chat.Tests;

public sealed class ThreadApiTests
{
    [Fact(Timeout = 30_000)]
    public async Task Every_chat_route_needs_a_token()
    {
        await using var server = await ChatTestKit.StartAsync();
        string[] routes = ["/api/threads", "/api/threads/thr_x", "/api/threads/thr_x/messages", "/api/runs/run_x", "/api/runs/run_x/events"];
        foreach (var route in routes)
        {
            using var response = await server.Client.GetAsync(new Uri(route, UriKind.Relative));
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        using var post = await server.Client.PostAsync(new Uri("/api/threads", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.Unauthorized, post.StatusCode);
    }

    [Fact(Timeout = 30_000)]
    public async Task Create_get_patch_delete_a_thread()
    {
        await using var server = await ChatTestKit.StartAsync();
        using var alice = await ChatUser.CreateAsync(server);

        var (status, created) = await alice.PostAsync("/api/threads", new { title = "  Spend review  " });
        Assert.Equal(HttpStatusCode.Created, status);
        var id = created.Str("id")!;
        Assert.StartsWith("thr_", id, StringComparison.Ordinal);
        Assert.Equal("Spend review", created.Str("title"));
        Assert.False(created.GetProperty("archived").GetBoolean());
        Assert.False(created.TryGetProperty("last_run_status", out _));
        Assert.True(created.TryGetProperty("created_at", out _));
        Assert.True(created.TryGetProperty("updated_at", out _));

        var (_, untitled) = await alice.PostAsync("/api/threads");
        Assert.Equal("New thread", untitled.Str("title"));

        var (getStatus, fetched) = await alice.GetAsync($"/api/threads/{id}");
        Assert.Equal(HttpStatusCode.OK, getStatus);
        Assert.Equal("Spend review", fetched.Str("title"));

        var (patchStatus, patched) = await alice.SendAsync(HttpMethod.Patch, $"/api/threads/{id}", new { title = "Q4 spend", archived = true });
        Assert.Equal(HttpStatusCode.OK, patchStatus);
        Assert.Equal("Q4 spend", patched.Str("title"));
        Assert.True(patched.GetProperty("archived").GetBoolean());

        var (titleOnlyStatus, titleOnly) = await alice.SendAsync(HttpMethod.Patch, $"/api/threads/{id}", new { title = "Q4" });
        Assert.Equal(HttpStatusCode.OK, titleOnlyStatus);
        Assert.True(titleOnly.GetProperty("archived").GetBoolean());

        var (deleteStatus, _) = await alice.SendAsync(HttpMethod.Delete, $"/api/threads/{id}");
        Assert.Equal(HttpStatusCode.NoContent, deleteStatus);
        var (goneStatus, gone) = await alice.GetAsync($"/api/threads/{id}");
        Assert.Equal(HttpStatusCode.NotFound, goneStatus);
        Assert.Equal(404, gone.GetProperty("status").GetInt32());
        var (deleteAgain, _) = await alice.SendAsync(HttpMethod.Delete, $"/api/threads/{id}");
        Assert.Equal(HttpStatusCode.NotFound, deleteAgain);
    }

    [Fact(Timeout = 30_000)]
    public async Task Invalid_input_is_a_422_problem_naming_the_field()
    {
        await using var server = await ChatTestKit.StartAsync();
        using var alice = await ChatUser.CreateAsync(server);
        var id = await alice.CreateThreadAsync();

        var cases = new (HttpMethod Method, string Path, object? Body, string Field)[]
        {
            (HttpMethod.Post, "/api/threads", new { title = new string('x', 201) }, "title"),
            (HttpMethod.Post, "/api/threads", new { title = "   " }, "title"),
            (HttpMethod.Patch, $"/api/threads/{id}", new { title = "" }, "title"),
            (HttpMethod.Get, "/api/threads?limit=0", null, "limit"),
            (HttpMethod.Get, "/api/threads?limit=abc", null, "limit"),
            (HttpMethod.Get, "/api/threads?cursor=not-a-cursor!", null, "cursor"),
            (HttpMethod.Get, "/api/threads?archived=maybe", null, "archived"),
            (HttpMethod.Get, $"/api/threads/{id}/messages?limit=-1", null, "limit"),
            (HttpMethod.Post, $"/api/threads/{id}/messages", new { content = "" }, "content"),
            (HttpMethod.Post, $"/api/threads/{id}/messages", new { text = "content is the field" }, "content"),
            (HttpMethod.Post, $"/api/threads/{id}/messages", new { content = new string('x', 32_001) }, "content"),
        };
        foreach (var (method, path, body, field) in cases)
        {
            var (status, problem) = await alice.SendAsync(method, path, body);
            Assert.True(status == HttpStatusCode.UnprocessableEntity, $"{method} {path}: {status}");
            Assert.Equal(422, problem.GetProperty("status").GetInt32());
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"{method} {path} should name {field}");
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Malformed_json_bodies_are_problems_not_crashes()
    {
        await using var server = await ChatTestKit.StartAsync();
        using var alice = await ChatUser.CreateAsync(server);
        var id = await alice.CreateThreadAsync();
        foreach (var (method, path) in new[] { (HttpMethod.Patch, $"/api/threads/{id}"), (HttpMethod.Post, $"/api/threads/{id}/messages"), (HttpMethod.Post, "/api/threads") })
        {
            using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative))
            {
                Content = new StringContent("{\"content\": ", System.Text.Encoding.UTF8, "application/json"),
            };
            using var response = await alice.Http.SendAsync(request);
            Assert.True(response.StatusCode is HttpStatusCode.UnprocessableEntity or HttpStatusCode.BadRequest, $"{method} {path}: {response.StatusCode}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        var (_, messages) = await alice.GetAsync($"/api/threads/{id}/messages");
        Assert.Empty(messages.GetProperty("items").EnumerateArray());
    }

    [Fact(Timeout = 30_000)]
    public async Task Another_users_thread_is_not_found_for_every_route()
    {
        await using var server = await ChatTestKit.StartAsync();
        using var alice = await ChatUser.CreateAsync(server);
        using var mallory = await ChatUser.CreateAsync(server);
        var id = await alice.CreateThreadAsync("private");

        Assert.Equal(HttpStatusCode.NotFound, (await mallory.GetAsync($"/api/threads/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await mallory.GetAsync($"/api/threads/{id}/messages")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await mallory.SendAsync(HttpMethod.Patch, $"/api/threads/{id}", new { title = "mine" })).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await mallory.SendAsync(HttpMethod.Delete, $"/api/threads/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await mallory.PostAsync($"/api/threads/{id}/messages", new { content = "hi" })).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await mallory.GetAsync("/api/threads/thr_01JXXXXXXXXXXXXXXXXXXXXXXX")).Status);
        var (_, list) = await mallory.GetAsync("/api/threads");
        Assert.Empty(list.GetProperty("items").EnumerateArray());

        // Nothing of mallory's attempts reached alice's thread.
        var (status, thread) = await alice.GetAsync($"/api/threads/{id}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("private", thread.Str("title"));
        var (_, messages) = await alice.GetAsync($"/api/threads/{id}/messages");
        Assert.Empty(messages.GetProperty("items").EnumerateArray());
    }

    [Fact(Timeout = 30_000)]
    public async Task Threads_list_newest_activity_first_with_cursor_pages_and_archive_filter()
    {
        await using var server = await ChatTestKit.StartAsync();
        using var alice = await ChatUser.CreateAsync(server);
        var ids = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            ids.Add(await alice.CreateThreadAsync($"t{i}"));
        }

        // Touching the oldest thread makes it the most recent activity.
        await alice.SendAsync(HttpMethod.Patch, $"/api/threads/{ids[0]}", new { title = "t0 renamed" });
        await alice.SendAsync(HttpMethod.Patch, $"/api/threads/{ids[3]}", new { archived = true });

        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var (status, page) = await alice.GetAsync("/api/threads?limit=2" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)));
            Assert.Equal(HttpStatusCode.OK, status);
            var items = page.GetProperty("items").EnumerateArray().ToList();
            Assert.True(items.Count <= 2);
            seen.AddRange(items.Select(t => t.Str("id")!));
            cursor = page.TryGetProperty("next_cursor", out var next) && next.ValueKind == JsonValueKind.String ? next.GetString() : null;
            pages++;
        }
        while (cursor is not null && pages < 10);

        string[] expected = [ids[0], ids[6], ids[5], ids[4], ids[2], ids[1]];
        Assert.Equal(expected, seen);

        var (_, archived) = await alice.GetAsync("/api/threads?archived=true");
        Assert.Equal([ids[3]], archived.GetProperty("items").EnumerateArray().Select(t => t.Str("id")!).ToArray());

        var (_, all) = await alice.GetAsync("/api/threads?limit=1000");
        Assert.Equal(6, all.GetProperty("items").GetArrayLength());
        // The last page says so explicitly: {items, next_cursor: null}.
        Assert.Equal(JsonValueKind.Null, all.GetProperty("next_cursor").ValueKind);
    }

    [Fact(Timeout = 30_000)]
    public async Task Thread_events_reach_the_owners_websocket_only()
    {
        await using var server = await ChatTestKit.StartAsync();
        using var alice = await ChatUser.CreateAsync(server);
        using var bob = await ChatUser.CreateAsync(server);
        await using var aliceWs = await TestSocket.OpenAsync(server, alice.User.AccessToken);
        await using var bobWs = await TestSocket.OpenAsync(server, bob.User.AccessToken);

        var id = await alice.CreateThreadAsync("announced");
        var created = await aliceWs.ReceiveAsync();
        Assert.Equal("thread_created", created.Type());
        Assert.Equal(id, created.Str("thread_id"));
        Assert.Equal("announced", created.GetProperty("payload").GetProperty("thread").Str("title"));
        Assert.True(created.GetProperty("seq").GetInt64() > 0);

        await alice.SendAsync(HttpMethod.Patch, $"/api/threads/{id}", new { title = "renamed" });
        var updated = await aliceWs.ReceiveAsync();
        Assert.Equal("thread_updated", updated.Type());
        Assert.Equal("renamed", updated.GetProperty("payload").GetProperty("thread").Str("title"));
        Assert.Equal(created.GetProperty("seq").GetInt64() + 1, updated.GetProperty("seq").GetInt64());

        Assert.Empty(await bobWs.DrainAsync(TimeSpan.FromMilliseconds(300)));
    }
}
