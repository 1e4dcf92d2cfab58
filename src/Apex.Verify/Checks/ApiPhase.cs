using System.Text.Json;
using Apex.Verify.Probe;

namespace Apex.Verify.Checks;

/// <summary>Phase 5: create, list and read a thread; another user cannot read it.</summary>
internal static class ApiPhase
{
    private static readonly string[] ThreadFields = ["id", "title", "created_at", "updated_at", "archived"];

    public static async Task RunAsync(VerifyContext ctx, CancellationToken ct)
    {
        var e = ctx.Endpoints;
        var title = $"apex verify probe {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm:ss}";

        await ctx.CheckAsync("api.create_thread", "create a thread", async _ =>
        {
            var response = await ctx.Http.PostAsync(e.ApiPath("api/threads"), ctx.UserA!.AccessToken, new { title }, ct);
            var body = response.Expect(201).ExpectJsonObject();
            var id = body.Str("id");
            if (id is null || !id.StartsWith("thr_", StringComparison.Ordinal))
            {
                throw new CheckFailedException($"{response.Describe()}: id '{id}' is not a thr_ id");
            }

            if (body.Str("title") != title)
            {
                throw new CheckFailedException($"{response.Describe()}: title '{body.Str("title")}' is not the one sent");
            }

            ctx.ThreadId = id;
            ctx.UserAThreads.Add(id);
            return $"{response.Describe()}: {id} in {response.Elapsed.TotalMilliseconds:0} ms";
        }, ct, needs: [Facts.Api, Facts.Session], provides: Facts.Thread);

        await ctx.CheckAsync("api.list_threads", "the thread is listed", async _ =>
        {
            var response = (await ctx.Http.GetAsync(e.ApiPath("api/threads"), ctx.UserA!.AccessToken, ct)).Expect(200);
            var items = Json.Items(response.Json) ?? throw new CheckFailedException($"{response.Describe()}: no items list");
            if (response.Json is not { ValueKind: JsonValueKind.Object } page || !page.TryGetProperty("next_cursor", out var cursor) || cursor.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
            {
                throw new CheckFailedException($"{response.Describe()}: not a paginated {{items, next_cursor}} object");
            }

            if (!items.Any(i => i.Str("id") == ctx.ThreadId))
            {
                throw new CheckFailedException($"{response.Describe()}: {ctx.ThreadId} is not among the {items.Count} threads listed");
            }

            return $"{ctx.ThreadId} listed among {items.Count} thread(s)";
        }, ct, needs: [Facts.Thread]);

        await ctx.CheckAsync("api.read_thread", "the thread reads back", async _ =>
        {
            var response = await ctx.Http.GetAsync(e.ApiPath($"api/threads/{ctx.ThreadId}"), ctx.UserA!.AccessToken, ct);
            var body = response.Expect(200).ExpectJsonObject();
            var missing = ThreadFields.Where(f => !((JsonElement?)body).Has(f)).ToList();
            if (missing.Count > 0)
            {
                throw new CheckFailedException($"{response.Describe()}: thread lacks {string.Join(", ", missing)}");
            }

            if (body.Str("id") != ctx.ThreadId || body.Str("title") != title)
            {
                throw new CheckFailedException($"{response.Describe()}: answered thread {body.Str("id")} \"{body.Str("title")}\"");
            }

            return $"{response.Describe()}: id, title, created_at, updated_at, archived {body.Bool("archived")}";
        }, ct, needs: [Facts.Thread]);

        await ctx.CheckAsync("api.other_user", "another user cannot read it: 404", async _ =>
        {
            var b = ctx.UserB!;
            var foreign = await ctx.Http.GetAsync(e.ApiPath($"api/threads/{ctx.ThreadId}"), b.AccessToken, ct);
            if (foreign.Status != 404)
            {
                throw new CheckFailedException($"user B reading user A's thread: {foreign.Describe()}, expected 404" +
                    (foreign.Status == 200 ? " (another user's thread was disclosed)" : string.Empty));
            }

            var unknown = await ctx.Http.GetAsync(e.ApiPath("api/threads/thr_01ZZZZZZZZZZZZZZZZZZZZZZZZ"), b.AccessToken, ct);
            unknown.Expect(404);
            if (foreign.Json.Str("title") != unknown.Json.Str("title"))
            {
                throw new CheckFailedException("the 404 for another user's thread differs from the 404 for a thread that does not exist");
            }

            var list = (await ctx.Http.GetAsync(e.ApiPath("api/threads"), b.AccessToken, ct)).Expect(200);
            if (Json.Items(list.Json)?.Any(i => i.Str("id") == ctx.ThreadId) == true)
            {
                throw new CheckFailedException("user A's thread appears in user B's thread list");
            }

            var messages = await ctx.Http.GetAsync(e.ApiPath($"api/threads/{ctx.ThreadId}/messages"), b.AccessToken, ct);
            if (messages.Status != 404)
            {
                throw new CheckFailedException($"user B reading user A's messages: {messages.Describe()}, expected 404");
            }

            return "user B gets 404 for user A's thread and its messages (the same answer as for a missing thread) and does not see it listed";
        }, ct, needs: [Facts.Thread, Facts.SecondSession]);
    }
}
