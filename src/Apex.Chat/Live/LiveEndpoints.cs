using System.Buffers.Text;
using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Apex.Agents.Data;
using Apex.Auth;
using Apex.Chat.Datasets;
using Apex.Contracts;
using Apex.Hosting.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Apex.Chat.Live;

public sealed record CreateIngestKeyRequest(string? Name);

public sealed record BudgetRequest(double? MonthlyUsd, Dictionary<string, double>? Features, string? WebhookUrl, double? SpikeFactor);

/// <summary>A dataset's budget (docs/spec/rest-api.md, "Budgets and alerts").</summary>
public sealed record BudgetResponse
{
    public required string DatasetId { get; init; }
    public required double MonthlyUsd { get; init; }
    public required IReadOnlyDictionary<string, double> Features { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? WebhookUrl { get; init; }
    public required double SpikeFactor { get; init; }

    /// <summary>Only in the answer that set a new webhook URL.</summary>
    public string? WebhookSecret { get; init; }
}

public sealed record AlertPage(IReadOnlyList<JsonElement> Items,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? NextCursor);

/// <summary>Ingest keys, budgets and alerts: owner-scoped REST routes of docs/spec/rest-api.md.</summary>
internal static class LiveEndpoints
{
    public const double DefaultSpikeFactor = 3;
    private const int MaxFeatures = 100;
    private const int MaxFeatureLength = 256;
    private const double MaxUsd = 1_000_000_000;

    public static IEndpointRouteBuilder MapLiveRoutes(this IEndpointRouteBuilder endpoints)
    {
        var keys = endpoints.MapGroup("/api/ingest-keys").RequireAuthorization().WithTags("Live usage");
        keys.MapPost("/", CreateKeyAsync);
        keys.MapGet("/", ListKeysAsync);
        keys.MapDelete("/{id}", RevokeKeyAsync);

        var budget = endpoints.MapGroup("/api/datasets/{id}/budget").RequireAuthorization().WithTags("Live usage");
        budget.MapPut("/", PutBudgetAsync);
        budget.MapGet("/", GetBudgetAsync);
        budget.MapDelete("/", DeleteBudgetAsync);

        endpoints.MapGet("/api/alerts", ListAlertsAsync).RequireAuthorization().WithTags("Live usage");
        endpoints.MapOtlpRoutes();
        return endpoints;
    }

    private static async Task<Results<Created<IngestKeyResponse>, ProblemHttpResult>> CreateKeyAsync(
        CreateIngestKeyRequest body, ClaimsPrincipal user, IngestKeyStore store, CancellationToken ct)
    {
        var name = body.Name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > LiveLimits.MaxKeyNameLength)
        {
            return Invalid("name", $"name must be 1 to {LiveLimits.MaxKeyNameLength} characters.");
        }

        var created = await store.CreateAsync(user.GetUserId(), name, ct);
        return TypedResults.Created($"/api/ingest-keys/{created.Id}", created);
    }

    private static async Task<Results<Ok<IngestKeyPage>, ProblemHttpResult>> ListKeysAsync(
        ClaimsPrincipal user, IngestKeyStore store, string? limit, string? cursor, CancellationToken ct)
    {
        if (!TryPage(limit, cursor, IngestKeyStore.IdPrefix, out var size, out var problem))
        {
            return problem;
        }

        return TypedResults.Ok(await store.ListAsync(user.GetUserId(), size, cursor, ct));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> RevokeKeyAsync(string id, ClaimsPrincipal user, IngestKeyStore store, CancellationToken ct) =>
        await store.RevokeAsync(user.GetUserId(), id, ct) ? TypedResults.NoContent() : NotFound("Ingest key not found.");

    private static async Task<Results<Ok<BudgetResponse>, ProblemHttpResult>> PutBudgetAsync(
        string id, BudgetRequest body, ClaimsPrincipal user, DatasetsDbContext db, TimeProvider time, CancellationToken ct)
    {
        var userId = user.GetUserId();
        var errors = new Dictionary<string, string[]>();
        if (body.MonthlyUsd is not { } monthly || !(monthly > 0) || monthly > MaxUsd)
        {
            errors["monthly_usd"] = ["monthly_usd must be a number above 0 (USD per calendar month)."];
        }

        var features = body.Features ?? [];
        if (features.Count > MaxFeatures
            || features.Any(f => string.IsNullOrWhiteSpace(f.Key) || f.Key.Length > MaxFeatureLength || !(f.Value > 0) || f.Value > MaxUsd))
        {
            errors["features"] = [$"features must map up to {MaxFeatures} feature names (1-{MaxFeatureLength} characters) to monthly USD above 0."];
        }

        var spike = body.SpikeFactor ?? DefaultSpikeFactor;
        if (!(spike > 1) || spike > 1000)
        {
            errors["spike_factor"] = ["spike_factor must be above 1 and at most 1000 (a day's spend over that many times its recent days' mean)."];
        }

        var url = string.IsNullOrWhiteSpace(body.WebhookUrl) ? null : body.WebhookUrl.Trim();
        if (url is not null && !IsWebhookUrl(url))
        {
            errors["webhook_url"] = [$"webhook_url must be an absolute https URL (http only to a loopback address), at most {LiveLimits.MaxWebhookUrlLength} characters."];
        }

        if (errors.Count > 0)
        {
            return Problems.Validation(errors, errors.First().Value[0]);
        }

        var dataset = await db.Datasets.AsNoTracking().Where(d => d.Id == id && d.UserId == userId).Select(d => new { d.Kind }).FirstOrDefaultAsync(ct);
        if (dataset is null)
        {
            return NotFound("Dataset not found.");
        }

        if (dataset.Kind != UsageDatasetKinds.Live)
        {
            return Invalid("dataset_id", "Budgets apply to live datasets (fed by an ingest key): an upload does not grow, so there is nothing to watch.");
        }

        var existing = await db.Budgets.FirstOrDefaultAsync(b => b.DatasetId == id && b.UserId == userId, ct);
        string? newSecret = null;
        var secret = existing?.WebhookSecret;
        if (url is null)
        {
            secret = null;
        }
        else if (existing?.WebhookUrl != url || secret is null)
        {
            newSecret = secret = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        }

        var row = existing ?? new DatasetBudget { DatasetId = id, UserId = userId, FeaturesJson = "{}" };
        row.MonthlyUsd = body.MonthlyUsd!.Value;
        row.FeaturesJson = JsonSerializer.Serialize(features.ToDictionary(f => f.Key.Trim(), f => f.Value, StringComparer.Ordinal));
        row.WebhookUrl = url;
        row.WebhookSecret = secret;
        row.SpikeFactor = spike;
        row.UpdatedAtMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (existing is null)
        {
            db.Budgets.Add(row);
        }

        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException) when (existing is null)
        {
            // Two first PUTs at once: the other one's budget stands; this caller sees the conflict.
            return TypedResults.Problem(Problems.Create(StatusCodes.Status409Conflict, "The budget was set by a concurrent request; read it and try again."));
        }

        return TypedResults.Ok(ToResponse(row) with { WebhookSecret = newSecret });
    }

    private static async Task<Results<Ok<BudgetResponse>, ProblemHttpResult>> GetBudgetAsync(string id, ClaimsPrincipal user, DatasetsDbContext db, CancellationToken ct)
    {
        var userId = user.GetUserId();
        var row = await db.Budgets.AsNoTracking().FirstOrDefaultAsync(b => b.DatasetId == id && b.UserId == userId, ct);
        return row is null ? NotFound("No budget is set for this dataset.") : TypedResults.Ok(ToResponse(row));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteBudgetAsync(string id, ClaimsPrincipal user, DatasetsDbContext db, CancellationToken ct)
    {
        var userId = user.GetUserId();
        var deleted = await db.Budgets.Where(b => b.DatasetId == id && b.UserId == userId).ExecuteDeleteAsync(ct);
        return deleted > 0 ? TypedResults.NoContent() : NotFound("No budget is set for this dataset.");
    }

    private static async Task<Results<Ok<AlertPage>, ProblemHttpResult>> ListAlertsAsync(
        ClaimsPrincipal user, DatasetsDbContext db, string? limit, string? cursor, CancellationToken ct)
    {
        if (!TryPage(limit, cursor, "alr", out var size, out var problem))
        {
            return problem;
        }

        var userId = user.GetUserId();
        var query = db.Alerts.AsNoTracking().Where(a => a.UserId == userId);
        if (cursor is not null)
        {
            query = query.Where(a => a.Id.CompareTo(cursor) < 0);
        }

        var rows = await query.OrderByDescending(a => a.Id).Take(size + 1).Select(a => new { a.Id, a.Json }).ToListAsync(ct);
        var next = rows.Count > size ? rows[size - 1].Id : null;
        var items = rows.Take(size).Select(a =>
        {
            using var doc = JsonDocument.Parse(a.Json);
            return doc.RootElement.Clone();
        }).ToList();
        return TypedResults.Ok(new AlertPage(items, next));
    }

    /// <summary>https anywhere; http only to a loopback receiver (a local relay or a test).</summary>
    private static bool IsWebhookUrl(string url) =>
        url.Length <= LiveLimits.MaxWebhookUrlLength
        && Uri.TryCreate(url, UriKind.Absolute, out var uri)
        && string.IsNullOrEmpty(uri.UserInfo)
        && (uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback));

    private static BudgetResponse ToResponse(DatasetBudget row) => new()
    {
        DatasetId = row.DatasetId,
        MonthlyUsd = row.MonthlyUsd,
        Features = JsonSerializer.Deserialize<Dictionary<string, double>>(row.FeaturesJson) ?? [],
        WebhookUrl = row.WebhookUrl,
        SpikeFactor = row.SpikeFactor,
    };

    private static bool TryPage(string? limit, string? cursor, string prefix, out int size, out ProblemHttpResult problem)
    {
        size = LiveLimits.DefaultPageSize;
        problem = null!;
        if (!string.IsNullOrEmpty(limit))
        {
            if (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out size) || size < 1)
            {
                problem = Invalid("limit", $"limit must be an integer between 1 and {LiveLimits.MaxPageSize}.");
                return false;
            }

            size = Math.Min(size, LiveLimits.MaxPageSize);
        }

        if (cursor is not null && !ApexIds.HasPrefix(cursor, prefix))
        {
            problem = Invalid("cursor", "cursor is not a cursor returned by this API.");
            return false;
        }

        return true;
    }

    private static ProblemHttpResult Invalid(string field, string message) =>
        Problems.Validation(new Dictionary<string, string[]> { [field] = [message] }, message);

    private static ProblemHttpResult NotFound(string detail)
    {
        var problem = Problems.Create(StatusCodes.Status404NotFound, detail);
        problem.Extensions["code"] = "not_found";
        return TypedResults.Problem(problem);
    }
}
