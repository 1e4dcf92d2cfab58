using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Apex.Agents.Data;
using Apex.Chat.Datasets;
using Apex.Contracts;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Apex.Chat.Live;

/// <summary>An ingest key as the REST routes and <c>apex ingest-key</c> show it (docs/spec/rest-api.md, "Ingest keys").</summary>
public sealed record IngestKeyResponse
{
    public required string Id { get; init; }
    public required string Name { get; init; }

    /// <summary>The key itself: only in the answer that created it.</summary>
    public string? Key { get; init; }
    public required string KeyPrefix { get; init; }
    public required string DatasetId { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public DateTimeOffset? LastUsedAt { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public DateTimeOffset? RevokedAt { get; init; }
}

public sealed record IngestKeyPage(IReadOnlyList<IngestKeyResponse> Items,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? NextCursor);

/// <summary>Who an OTLP request writes for: the key's owner and live dataset.</summary>
internal sealed record IngestCaller(string KeyId, string UserId, string DatasetId, string DatasetName);

/// <summary>
/// Ingest keys and their live datasets. A key is <c>apx_ik_</c> + 32 random bytes (url-safe base64);
/// only its SHA-256 is stored, so a database dump does not let anyone send usage. Every owner-facing
/// query carries the owner in its WHERE: another user's key id behaves like one that does not exist.
/// </summary>
public sealed class IngestKeyStore(IServiceScopeFactory scopes, TimeProvider time)
{
    public const string KeyPrefix = "apx_ik_";
    public const string IdPrefix = "ik";
    public const string LiveSourceFormat = "otlp_live";
    public const string LiveSourceFormatName = "OpenTelemetry GenAI spans (OTLP live)";

    /// <summary>The Apex usage fields a live dataset's rows carry.</summary>
    private static readonly string[] LiveColumns =
        ["timestamp", "model", "feature", "input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens", "latency_ms", "status", "prompt_hash"];

    /// <summary>A used key's last_used_at is written at most this often, not on every export.</summary>
    private static readonly TimeSpan LastUsedResolution = TimeSpan.FromMinutes(1);

    /// <summary>Creates the key and its empty live dataset in one transaction.</summary>
    public async Task<IngestKeyResponse> CreateAsync(string userId, string name, CancellationToken ct)
    {
        var key = KeyPrefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var dataset = new Dataset
        {
            Id = ApexIds.New(ApexIds.Dataset),
            UserId = userId,
            Name = name,
            ColumnsJson = JsonSerializer.Serialize(LiveColumns),
            WarningsJson = "[]",
            CreatedAtMs = now,
            SourceFormat = LiveSourceFormat,
            SourceFormatName = LiveSourceFormatName,
            Kind = UsageDatasetKinds.Live,
        };
        var row = new IngestKey
        {
            Id = ApexIds.New(IdPrefix),
            UserId = userId,
            Name = name,
            KeyHash = Hash(key),
            KeyPrefix = key[..12],
            DatasetId = dataset.Id,
            CreatedAtMs = now,
        };
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DatasetsDbContext>();
        db.Datasets.Add(dataset);
        db.IngestKeys.Add(row);
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        return ToResponse(row) with { Key = key };
    }

    /// <summary>The owner's keys, newest first; <paramref name="afterId"/> is the previous page's cursor.</summary>
    public async Task<IngestKeyPage> ListAsync(string userId, int limit, string? afterId, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DatasetsDbContext>();
        var query = db.IngestKeys.AsNoTracking().Where(k => k.UserId == userId);
        if (afterId is not null)
        {
            query = query.Where(k => k.Id.CompareTo(afterId) < 0);
        }

        var rows = await query.OrderByDescending(k => k.Id).Take(limit + 1).ToListAsync(ct);
        var next = rows.Count > limit ? rows[limit - 1].Id : null;
        return new IngestKeyPage([.. rows.Take(limit).Select(ToResponse)], next);
    }

    /// <summary>Revokes the key (its dataset and rows stay); false when the owner has no such key. Revoking twice is not an error.</summary>
    public async Task<bool> RevokeAsync(string userId, string keyId, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DatasetsDbContext>();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await db.IngestKeys.Where(k => k.Id == keyId && k.UserId == userId && k.RevokedAtMs == null)
            .ExecuteUpdateAsync(s => s.SetProperty(k => k.RevokedAtMs, now), ct);
        return await db.IngestKeys.AsNoTracking().AnyAsync(k => k.Id == keyId && k.UserId == userId, ct);
    }

    /// <summary>Revokes a key by id whoever owns it (<c>apex ingest-key revoke</c>); null when there is no such key, else its owner.</summary>
    public async Task<string?> RevokeAnyAsync(string keyId, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DatasetsDbContext>();
        var owner = await db.IngestKeys.AsNoTracking().Where(k => k.Id == keyId).Select(k => k.UserId).FirstOrDefaultAsync(ct);
        return owner is not null && await RevokeAsync(owner, keyId, ct) ? owner : null;
    }

    /// <summary>The caller a key stands for, or null for an unknown or revoked key.</summary>
    internal async Task<IngestCaller?> AuthenticateAsync(string key, CancellationToken ct)
    {
        if (!key.StartsWith(KeyPrefix, StringComparison.Ordinal) || key.Length > 128)
        {
            return null;
        }

        var hash = Hash(key);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DatasetsDbContext>();
        var found = await db.IngestKeys.AsNoTracking()
            .Where(k => k.KeyHash == hash && k.RevokedAtMs == null)
            .Join(db.Datasets, k => k.DatasetId, d => d.Id, (k, d) => new { k.Id, k.UserId, k.DatasetId, d.Name, k.LastUsedAtMs })
            .FirstOrDefaultAsync(ct);
        if (found is null)
        {
            return null;
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var stale = now - (long)LastUsedResolution.TotalMilliseconds;
        if (found.LastUsedAtMs is null || found.LastUsedAtMs < stale)
        {
            await db.IngestKeys.Where(k => k.Id == found.Id && (k.LastUsedAtMs == null || k.LastUsedAtMs < stale))
                .ExecuteUpdateAsync(s => s.SetProperty(k => k.LastUsedAtMs, now), ct);
        }

        return new IngestCaller(found.Id, found.UserId, found.DatasetId, found.Name);
    }

    /// <summary>Lowercase hex SHA-256: the stored form of a key.</summary>
    internal static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private static IngestKeyResponse ToResponse(IngestKey k) => new()
    {
        Id = k.Id,
        Name = k.Name,
        KeyPrefix = k.KeyPrefix,
        DatasetId = k.DatasetId,
        CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(k.CreatedAtMs),
        LastUsedAt = k.LastUsedAtMs is { } used ? DateTimeOffset.FromUnixTimeMilliseconds(used) : null,
        RevokedAt = k.RevokedAtMs is { } revoked ? DateTimeOffset.FromUnixTimeMilliseconds(revoked) : null,
    };
}
