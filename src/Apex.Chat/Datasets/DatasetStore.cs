using System.Runtime.CompilerServices;
using System.Text.Json;
using Apex.Agents.Data;
using Apex.Contracts;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Apex.Chat.Datasets;

/// <summary>
/// Datasets in the shared database, so every server node reads what any node stored. Every query
/// carries the owner in its WHERE: another user's id behaves like one that does not exist.
/// </summary>
internal sealed class DatasetStore(IServiceScopeFactory scopes, TimeProvider time) : IUsageDataSource
{
    public async Task<bool> ExistsAsync(string userId, string datasetId, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DatasetsDbContext>();
        return await db.Datasets.AsNoTracking().AnyAsync(d => d.Id == datasetId && d.UserId == userId, ct);
    }

    public async Task<UsageDatasetInfo?> GetInfoAsync(string userId, string datasetId, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DatasetsDbContext>();
        var row = await db.Datasets.AsNoTracking().FirstOrDefaultAsync(d => d.Id == datasetId && d.UserId == userId, ct);
        return row is null ? null : ToInfo(row);
    }

    public async Task<UsageDatasetInfo?> LatestAsync(string userId, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DatasetsDbContext>();
        // Ids are time-sortable: they break ties between uploads of the same millisecond.
        // A live dataset that has received nothing yet is no data to analyse.
        var row = await db.Datasets.AsNoTracking().Where(d => d.UserId == userId && d.Rows > 0)
            .OrderByDescending(d => d.CreatedAtMs).ThenByDescending(d => d.Id).FirstOrDefaultAsync(ct);
        return row is null ? null : ToInfo(row);
    }

    public async IAsyncEnumerable<byte[]> ReadChunksAsync(string userId, string datasetId, [EnumeratorCancellation] CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DatasetsDbContext>();
        // One chunk per query keeps a single compressed chunk in memory at a time.
        var seqs = await db.Chunks.AsNoTracking().Where(c => c.DatasetId == datasetId && c.UserId == userId)
            .OrderBy(c => c.Seq).Select(c => c.Seq).ToListAsync(ct);
        foreach (var seq in seqs)
        {
            var data = await db.Chunks.AsNoTracking().Where(c => c.DatasetId == datasetId && c.UserId == userId && c.Seq == seq)
                .Select(c => c.Data).FirstOrDefaultAsync(ct);
            if (data is not null)
            {
                yield return data;
            }
        }
    }

    /// <summary>Stores the summary and every chunk in one transaction: a failed upload stores nothing.</summary>
    public async Task<UsageDatasetInfo> SaveAsync(string userId, string name, UsageParseResult parsed, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DatasetsDbContext>();
        var id = ApexIds.New(ApexIds.Dataset);
        var dataset = new Dataset
        {
            Id = id,
            UserId = userId,
            Name = name,
            Rows = parsed.Rows,
            ColumnsJson = JsonSerializer.Serialize(parsed.Columns),
            WarningsJson = JsonSerializer.Serialize(parsed.Warnings),
            PeriodStartMs = parsed.PeriodStart?.ToUnixTimeMilliseconds(),
            PeriodEndMs = parsed.PeriodEnd?.ToUnixTimeMilliseconds(),
            CreatedAtMs = time.GetUtcNow().ToUnixTimeMilliseconds(),
            StoredBytes = parsed.Chunks.Sum(c => (long)c.Length),
            SourceFormat = parsed.SourceFormat,
            SourceFormatName = parsed.SourceFormatName,
            Calls = parsed.Calls,
            Aggregated = parsed.Aggregated,
            CostOnly = parsed.CostOnly,
        };
        db.Datasets.Add(dataset);
        for (var i = 0; i < parsed.Chunks.Count; i++)
        {
            db.Chunks.Add(new DatasetChunk { DatasetId = id, Seq = i, UserId = userId, RowCount = Math.Min(Apex.Agents.Data.UsageColumns.ChunkRows, parsed.Rows - i * Apex.Agents.Data.UsageColumns.ChunkRows), Data = parsed.Chunks[i] });
        }

        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        return ToInfo(dataset);
    }

    public async Task<(List<UsageDatasetInfo> Items, string? Next)> ListAsync(string userId, int limit, string? afterId, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DatasetsDbContext>();
        var query = db.Datasets.AsNoTracking().Where(d => d.UserId == userId);
        if (afterId is not null)
        {
            query = query.Where(d => d.Id.CompareTo(afterId) < 0);
        }

        var rows = await query.OrderByDescending(d => d.Id).Take(limit + 1).ToListAsync(ct);
        var next = rows.Count > limit ? rows[limit - 1].Id : null;
        return ([.. rows.Take(limit).Select(ToInfo)], next);
    }

    public async Task<bool> DeleteAsync(string userId, string datasetId, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DatasetsDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        await db.Chunks.Where(c => c.DatasetId == datasetId && c.UserId == userId).ExecuteDeleteAsync(ct);
        var deleted = await db.Datasets.Where(d => d.Id == datasetId && d.UserId == userId).ExecuteDeleteAsync(ct);
        await transaction.CommitAsync(ct);
        return deleted > 0;
    }

    private static UsageDatasetInfo ToInfo(Dataset d) => new()
    {
        Id = d.Id,
        Name = d.Name,
        Rows = d.Rows,
        Columns = JsonSerializer.Deserialize<List<string>>(d.ColumnsJson) ?? [],
        Warnings = JsonSerializer.Deserialize<List<string>>(d.WarningsJson) ?? [],
        PeriodStart = d.PeriodStartMs is { } s ? DateTimeOffset.FromUnixTimeMilliseconds(s) : null,
        PeriodEnd = d.PeriodEndMs is { } e ? DateTimeOffset.FromUnixTimeMilliseconds(e) : null,
        CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(d.CreatedAtMs),
        SourceFormat = d.SourceFormat,
        SourceFormatName = d.SourceFormatName,
        Calls = d.Calls,
        Aggregated = d.Aggregated,
        CostOnly = d.CostOnly,
        Kind = d.Kind,
    };
}
