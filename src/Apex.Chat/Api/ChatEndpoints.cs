using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using Apex.Auth;
using Apex.Chat.Data;
using Apex.Chat.Runs;
using Apex.Contracts;
using Apex.Realtime.Gateway;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;

namespace Apex.Chat.Api;

/// <summary>
/// docs/spec/rest-api.md "Threads and messages". Every query carries the caller's id in its WHERE clause, so a
/// thread or run of another user is indistinguishable from one that does not exist (404).
/// </summary>
internal static class ChatEndpoints
{
    public static RouteGroupBuilder MapChatRoutes(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api").RequireAuthorization()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);

        var threads = api.MapGroup("/threads").WithTags("Threads");
        threads.MapGet("/", ListThreads).WithName("ListThreads");
        threads.MapPost("/", CreateThread).WithName("CreateThread");
        threads.MapGet("/{id}", GetThread).WithName("GetThread");
        threads.MapPatch("/{id}", UpdateThread).WithName("UpdateThread");
        threads.MapDelete("/{id}", DeleteThread).WithName("DeleteThread");
        threads.MapGet("/{id}/messages", ListMessages).WithName("ListMessages");
        threads.MapPost("/{id}/messages", PostMessage).WithName("PostMessage").ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);

        var runs = api.MapGroup("/runs").WithTags("Runs");
        runs.MapGet("/{id}", GetRun).WithName("GetRun");
        runs.MapGet("/{id}/events", ListRunEvents).WithName("ListRunEvents");
        runs.MapPost("/{id}/cancel", CancelRun).WithName("CancelRun").ProducesProblem(StatusCodes.Status409Conflict);
        return api;
    }

    private static async Task<Results<Ok<PageResponse<ThreadResponse>>, ProblemHttpResult>> ListThreads(
        ClaimsPrincipal principal, ChatDbContext db, string? limit, string? cursor, string? archived, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var take = Paging.ParseLimit(limit, errors);
        var after = Paging.ParseCursor(cursor, errors);
        var showArchived = false;
        if (archived is not null && !bool.TryParse(archived, out showArchived))
        {
            errors["archived"] = ["archived must be true or false."];
        }

        if (errors.Count > 0)
        {
            return ChatProblems.Validation(errors);
        }

        var userId = principal.GetUserId();
        var query = db.Threads.AsNoTracking().Where(t => t.UserId == userId && t.Archived == showArchived);
        if (after is { } c)
        {
            var at = new DateTimeOffset(c.Ticks, TimeSpan.Zero);
            query = query.Where(t => t.UpdatedAt < at || (t.UpdatedAt == at && t.Id.CompareTo(c.Id) < 0));
        }

        var rows = await query.OrderByDescending(t => t.UpdatedAt).ThenByDescending(t => t.Id).Take(take + 1).ToListAsync(ct);
        return TypedResults.Ok(Page(rows, take, t => t.ToResponse(), t => new Cursor(t.UpdatedAt.UtcTicks, t.Id)));
    }

    private static async Task<Results<Created<ThreadResponse>, ProblemHttpResult>> CreateThread(
        ClaimsPrincipal principal, ChatDbContext db, ThreadAnnouncer announcer, TimeProvider time,
        [FromBody(EmptyBodyBehavior = EmptyBodyBehavior.Allow)] CreateThreadRequest? body, CancellationToken ct)
    {
        var title = ChatLimits.DefaultTitle;
        if (body?.Title is not null)
        {
            if (ValidateTitle(body.Title) is { } error)
            {
                return ChatProblems.Validation("title", error);
            }

            title = body.Title.Trim();
        }

        var now = time.GetUtcNow();
        var thread = new ChatThread
        {
            Id = ApexIds.New(ApexIds.Thread),
            UserId = principal.GetUserId(),
            Title = title,
            CreatedAt = now,
            UpdatedAt = now,
        };
        db.Threads.Add(thread);
        await db.SaveChangesAsync(ct);
        var response = thread.ToResponse();
        await announcer.AnnounceAsync(thread.UserId, EventTypes.ThreadCreated, response);
        return TypedResults.Created($"/api/threads/{thread.Id}", response);
    }

    private static async Task<Results<Ok<ThreadResponse>, ProblemHttpResult>> GetThread(
        ClaimsPrincipal principal, ChatDbContext db, string id, CancellationToken ct)
    {
        var userId = principal.GetUserId();
        var thread = await db.Threads.AsNoTracking().SingleOrDefaultAsync(t => t.Id == id && t.UserId == userId, ct);
        return thread is null ? ChatProblems.NotFound("Thread") : TypedResults.Ok(thread.ToResponse());
    }

    private static async Task<Results<Ok<ThreadResponse>, ProblemHttpResult>> UpdateThread(
        ClaimsPrincipal principal, ChatDbContext db, ThreadAnnouncer announcer, TimeProvider time,
        string id, UpdateThreadRequest body, CancellationToken ct)
    {
        if (body.Title is not null && ValidateTitle(body.Title) is { } error)
        {
            return ChatProblems.Validation("title", error);
        }

        var userId = principal.GetUserId();
        var now = time.GetUtcNow();
        var title = body.Title?.Trim();
        var updated = await db.Threads.Where(t => t.Id == id && t.UserId == userId).ExecuteUpdateAsync(s =>
        {
            s.SetProperty(t => t.UpdatedAt, now);
            if (title is not null)
            {
                s.SetProperty(t => t.Title, title);
            }

            if (body.Archived is { } archived)
            {
                s.SetProperty(t => t.Archived, archived);
            }
        }, ct);
        if (updated == 0)
        {
            return ChatProblems.NotFound("Thread");
        }

        var thread = await db.Threads.AsNoTracking().SingleOrDefaultAsync(t => t.Id == id && t.UserId == userId, ct);
        if (thread is null)
        {
            return ChatProblems.NotFound("Thread");
        }

        var response = thread.ToResponse();
        await announcer.AnnounceAsync(userId, EventTypes.ThreadUpdated, response);
        return TypedResults.Ok(response);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteThread(
        ClaimsPrincipal principal, ChatDbContext db, RunDriver driver, string id, CancellationToken ct)
    {
        var userId = principal.GetUserId();
        // A run still writing into the thread is stopped first; the database cascade removes the
        // messages, runs and run events.
        await driver.CancelThreadRunsAsync(userId, id);
        var deleted = await db.Threads.Where(t => t.Id == id && t.UserId == userId).ExecuteDeleteAsync(ct);
        return deleted == 0 ? ChatProblems.NotFound("Thread") : TypedResults.NoContent();
    }

    private static async Task<Results<Ok<PageResponse<MessageResponse>>, ProblemHttpResult>> ListMessages(
        ClaimsPrincipal principal, ChatDbContext db, string id, string? limit, string? cursor, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var take = Paging.ParseLimit(limit, errors);
        var after = Paging.ParseCursor(cursor, errors);
        if (errors.Count > 0)
        {
            return ChatProblems.Validation(errors);
        }

        var userId = principal.GetUserId();
        if (!await db.Threads.AsNoTracking().AnyAsync(t => t.Id == id && t.UserId == userId, ct))
        {
            return ChatProblems.NotFound("Thread");
        }

        var query = db.Messages.AsNoTracking().Where(m => m.ThreadId == id && m.UserId == userId);
        if (after is { } c)
        {
            var at = new DateTimeOffset(c.Ticks, TimeSpan.Zero);
            query = query.Where(m => m.CreatedAt > at || (m.CreatedAt == at && m.Id.CompareTo(c.Id) > 0));
        }

        var rows = await query.OrderBy(m => m.CreatedAt).ThenBy(m => m.Id).Take(take + 1).ToListAsync(ct);
        return TypedResults.Ok(Page(rows, take, m => m.ToResponse(), m => new Cursor(m.CreatedAt.UtcTicks, m.Id)));
    }

    private static async Task<Results<Accepted<PostMessageResponse>, ProblemHttpResult>> PostMessage(
        ClaimsPrincipal principal, RunStarter starter, string id, PostMessageRequest body, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(body.Content))
        {
            errors["content"] = ["content is required."];
        }
        else if (body.Content.Trim().Length > ChatLimits.MaxMessageLength)
        {
            errors["content"] = [$"content must be at most {ChatLimits.MaxMessageLength} characters."];
        }

        if (body.DatasetId is { } ds && string.IsNullOrWhiteSpace(ds))
        {
            errors["dataset_id"] = ["dataset_id must be a dataset id."];
        }

        if (errors.Count > 0)
        {
            return ChatProblems.Validation(errors);
        }

        if (!ApexIds.HasPrefix(id, ApexIds.Thread))
        {
            return ChatProblems.NotFound("Thread");
        }

        var result = await starter.StartAsync(new StartRunCommand(principal.GetUserId(), body.Content!, id, body.DatasetId), ct);
        if (result.Error is { } error)
        {
            return error switch
            {
                { Code: RunErrors.RunActive } => ChatProblems.Conflict(error.Code, error.Message),
                { Code: RunErrors.TooManyRuns } => Apex.Hosting.Http.Problems.Result(StatusCodes.Status429TooManyRequests, error.Message),
                // Another user's dataset answers exactly like one that does not exist (docs/spec/rest-api.md).
                { Code: RunErrors.NotFound, Field: "dataset_id" } => ChatProblems.NotFound("Dataset"),
                { Code: RunErrors.NotFound } => ChatProblems.NotFound("Thread"),
                _ => ChatProblems.Validation(error.Field, error.Message),
            };
        }

        var run = result.Run!;
        return TypedResults.Accepted($"/api/runs/{run.Id}", new PostMessageResponse(result.Message!.ToResponse(), run.ToResponse()));
    }

    private static async Task<Results<Ok<RunResponse>, ProblemHttpResult>> GetRun(
        ClaimsPrincipal principal, ChatDbContext db, string id, CancellationToken ct)
    {
        var userId = principal.GetUserId();
        var run = await db.Runs.AsNoTracking().SingleOrDefaultAsync(r => r.Id == id && r.UserId == userId, ct);
        return run is null ? ChatProblems.NotFound("Run") : TypedResults.Ok(run.ToResponse());
    }

    private static async Task<Results<Ok<PageResponse<JsonElement>>, ProblemHttpResult>> ListRunEvents(
        ClaimsPrincipal principal, ChatDbContext db, string id,
        [FromQuery(Name = "after_seq")] string? afterSeq, string? limit, string? cursor, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var take = Paging.ParseLimit(limit, errors);
        var after = Paging.ParseCursor(cursor, errors);
        long fromSeq = 0;
        if (afterSeq is not null && (!long.TryParse(afterSeq, NumberStyles.None, CultureInfo.InvariantCulture, out fromSeq)))
        {
            errors["after_seq"] = ["after_seq must be a non-negative integer."];
        }

        if (errors.Count > 0)
        {
            return ChatProblems.Validation(errors);
        }

        var userId = principal.GetUserId();
        if (!await db.Runs.AsNoTracking().AnyAsync(r => r.Id == id && r.UserId == userId, ct))
        {
            return ChatProblems.NotFound("Run");
        }

        // Stored order, not seq order: a run left by a killed single node is ended after the restart by an
        // event numbered in the new stream (seq starting again at 1), and it must still come last.
        // The cursor continues after the last event returned; it carries that event's row id.
        var afterId = after is { } c ? c.Ticks : 0;

        // after_seq names the last event the client has, so the answer is what was stored after that
        // event, a terminal event numbered in a restarted node's new stream included. Should two
        // streams have used the seq, the first is taken: a client may get an event twice, never miss one.
        // A seq the run never had keeps the plain meaning, the events numbered above it.
        var afterSeqId = fromSeq == 0 ? (long?)null : await db.RunEvents.AsNoTracking()
            .Where(e => e.RunId == id && e.UserId == userId && e.Seq == fromSeq)
            .OrderBy(e => e.Id)
            .Select(e => (long?)e.Id)
            .FirstOrDefaultAsync(ct);
        var rows = await db.RunEvents.AsNoTracking()
            .Where(e => e.RunId == id && e.UserId == userId && e.Id > afterId)
            .Where(afterSeqId is { } anchor ? e => e.Id > anchor : e => e.Seq > fromSeq)
            .OrderBy(e => e.Id)
            .Take(take + 1)
            .Select(e => new { e.Id, e.Envelope })
            .ToListAsync(ct);
        return TypedResults.Ok(Page(rows, take, e => ChatMapping.ParseElement(e.Envelope), e => new Cursor(e.Id, "id")));
    }

    private static async Task<Results<Accepted<RunResponse>, ProblemHttpResult>> CancelRun(
        ClaimsPrincipal principal, RunDriver driver, string id, CancellationToken ct)
    {
        var (error, run) = await driver.StopAsync(principal.GetUserId(), id, TimeSpan.Zero, ct);
        return error switch
        {
            null => TypedResults.Accepted($"/api/runs/{id}", run!.ToResponse()),
            { Code: RunErrors.RunNotActive } => ChatProblems.Conflict(error.Code, error.Message),
            _ => ChatProblems.NotFound("Run"),
        };
    }

    private static string? ValidateTitle(string title)
    {
        var trimmed = title.Trim();
        if (trimmed.Length == 0)
        {
            return "title must not be empty.";
        }

        return trimmed.Length > ChatLimits.MaxTitleLength ? $"title must be at most {ChatLimits.MaxTitleLength} characters." : null;
    }

    /// <summary>Rows were fetched with one extra to learn whether another page exists.</summary>
    private static PageResponse<TOut> Page<TIn, TOut>(List<TIn> rows, int take, Func<TIn, TOut> map, Func<TIn, Cursor> key)
    {
        var more = rows.Count > take;
        if (more)
        {
            rows.RemoveAt(rows.Count - 1);
        }

        return new PageResponse<TOut>([.. rows.Select(map)], more ? key(rows[^1]).Encode() : null);
    }
}
