using System.Collections.Concurrent;
using Apex.Agents.Data;
using Apex.Chat.Datasets;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Apex.Chat.Live;

/// <summary>
/// Appends ingested rows to a live dataset and drops rows past retention. Rows go into the dataset's
/// newest chunk until it holds <see cref="LiveLimits.LiveChunkRows"/> rows, then into a new one; the
/// summary (rows, period, calls) and the daily cost table change in the same transaction, so a batch
/// is stored whole or not at all.
/// <para>
/// Concurrent batches: one node serialises its writers per dataset; across nodes every write is
/// conditional on what it read (the newest chunk's row count, a new chunk's unused sequence number),
/// and a writer that lost the race rolls back and starts again from a fresh read.
/// </para>
/// </summary>
internal sealed partial class LiveUsageStore(IServiceScopeFactory scopes, ILogger<LiveUsageStore> logger)
{
    private const int MaxAttempts = 8;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new(StringComparer.Ordinal);

    /// <summary>Appends the batch: <paramref name="batch"/> holds its rows as encoded chunks, <paramref name="rows"/> the same rows decoded.</summary>
    public async Task AppendAsync(IngestCaller caller, UsageParseResult batch, UsageColumns rows, CancellationToken ct)
    {
        if (batch.Rows == 0)
        {
            return;
        }

        var daily = DailyCosts(rows);
        var gate = _locks.GetOrAdd(caller.DatasetId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    if (await TryAppendAsync(caller, batch, rows, daily, ct))
                    {
                        return;
                    }
                }
                catch (DbUpdateException) when (attempt < MaxAttempts)
                {
                    // Another node inserted the chunk or daily row this writer meant to insert.
                }

                if (attempt >= MaxAttempts)
                {
                    throw new InvalidOperationException($"Live dataset {caller.DatasetId}: the batch could not be appended after {MaxAttempts} concurrent attempts.");
                }

                LogAppendRetry(logger, caller.DatasetId, attempt);
            }
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<bool> TryAppendAsync(IngestCaller caller, UsageParseResult batch, UsageColumns rows,
        Dictionary<(long Day, string Feature), (double Cost, long Calls)> daily, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DatasetsDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var (min, max) = Range(rows, 0, rows.Count);
        var tail = await db.Chunks.AsNoTracking().Where(c => c.DatasetId == caller.DatasetId)
            .OrderByDescending(c => c.Seq).Select(c => new { c.Seq, c.RowCount, c.MinTimestampMs, c.MaxTimestampMs, c.Data.Length })
            .FirstOrDefaultAsync(ct);
        long bytesAdded;
        if (tail is not null && tail.RowCount + rows.Count <= LiveLimits.LiveChunkRows)
        {
            var data = await db.Chunks.AsNoTracking().Where(c => c.DatasetId == caller.DatasetId && c.Seq == tail.Seq).Select(c => c.Data).FirstAsync(ct);
            var merged = new UsageColumns(tail.RowCount + rows.Count);
            merged.AppendEncoded(data);
            foreach (var chunk in batch.Chunks)
            {
                merged.AppendEncoded(chunk);
            }

            var encoded = merged.Encode();
            var newMin = Math.Min(tail.MinTimestampMs ?? min, min);
            var newMax = Math.Max(tail.MaxTimestampMs ?? max, max);
            var newCount = merged.Count;
            var updated = await db.Chunks.Where(c => c.DatasetId == caller.DatasetId && c.Seq == tail.Seq && c.RowCount == tail.RowCount)
                .ExecuteUpdateAsync(s => s.SetProperty(c => c.Data, encoded).SetProperty(c => c.RowCount, newCount)
                    .SetProperty(c => c.MinTimestampMs, newMin).SetProperty(c => c.MaxTimestampMs, newMax), ct);
            if (updated == 0)
            {
                return false;
            }

            bytesAdded = encoded.Length - tail.Length;
        }
        else
        {
            var seq = (tail?.Seq ?? -1) + 1;
            bytesAdded = 0;
            var offset = 0;
            foreach (var chunk in batch.Chunks)
            {
                var count = Math.Min(UsageColumns.ChunkRows, rows.Count - offset);
                var (cMin, cMax) = Range(rows, offset, count);
                db.Chunks.Add(new DatasetChunk
                {
                    DatasetId = caller.DatasetId,
                    Seq = seq++,
                    UserId = caller.UserId,
                    RowCount = count,
                    Data = chunk,
                    MinTimestampMs = cMin,
                    MaxTimestampMs = cMax,
                });
                bytesAdded += chunk.Length;
                offset += count;
            }

            await db.SaveChangesAsync(ct);
        }

        var n = batch.Rows;
        var calls = batch.Calls;
        var summary = await db.Datasets.Where(d => d.Id == caller.DatasetId && d.UserId == caller.UserId)
            .ExecuteUpdateAsync(s => s
                .SetProperty(d => d.Rows, d => d.Rows + n)
                .SetProperty(d => d.Calls, d => d.Calls + calls)
                .SetProperty(d => d.StoredBytes, d => d.StoredBytes + bytesAdded)
                .SetProperty(d => d.PeriodStartMs, d => d.PeriodStartMs == null || d.PeriodStartMs > min ? min : d.PeriodStartMs)
                .SetProperty(d => d.PeriodEndMs, d => d.PeriodEndMs == null || d.PeriodEndMs < max ? max : d.PeriodEndMs), ct);
        if (summary == 0)
        {
            throw new LiveDatasetGoneException(caller.DatasetId);
        }

        foreach (var ((day, feature), (cost, dayCalls)) in daily)
        {
            var changed = await db.LiveDailyCosts.Where(x => x.DatasetId == caller.DatasetId && x.Day == day && x.Feature == feature)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.CostUsd, x => x.CostUsd + cost).SetProperty(x => x.Calls, x => x.Calls + dayCalls), ct);
            if (changed == 0)
            {
                db.LiveDailyCosts.Add(new LiveDailyCost { DatasetId = caller.DatasetId, Day = day, Feature = feature, CostUsd = cost, Calls = dayCalls });
            }
        }

        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        return true;
    }

    /// <summary>Drops the rows of live datasets older than <paramref name="cutoff"/>; returns how many rows went.</summary>
    public async Task<long> DropOlderThanAsync(DateTimeOffset cutoff, CancellationToken ct)
    {
        var cutoffMs = cutoff.ToUnixTimeMilliseconds();
        var cutoffDay = cutoffMs / 86_400_000;
        List<string> datasets;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<DatasetsDbContext>();
            datasets = await db.Datasets.AsNoTracking().Where(d => d.Kind == UsageDatasetKinds.Live && d.PeriodStartMs != null && d.PeriodStartMs < cutoffMs)
                .Select(d => d.Id).ToListAsync(ct);
        }

        long dropped = 0;
        foreach (var datasetId in datasets)
        {
            var gate = _locks.GetOrAdd(datasetId, _ => new SemaphoreSlim(1, 1));
            await gate.WaitAsync(ct);
            try
            {
                dropped += await DropAsync(datasetId, cutoffMs, cutoffDay, ct);
            }
            finally
            {
                gate.Release();
            }
        }

        return dropped;
    }

    private async Task<long> DropAsync(string datasetId, long cutoffMs, long cutoffDay, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DatasetsDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        long dropped = 0;
        var old = await db.Chunks.AsNoTracking().Where(c => c.DatasetId == datasetId && c.MinTimestampMs < cutoffMs)
            .Select(c => new { c.Seq, c.RowCount, c.MaxTimestampMs }).ToListAsync(ct);
        foreach (var chunk in old)
        {
            if (chunk.MaxTimestampMs < cutoffMs)
            {
                dropped += await db.Chunks.Where(c => c.DatasetId == datasetId && c.Seq == chunk.Seq && c.RowCount == chunk.RowCount).ExecuteDeleteAsync(ct) * chunk.RowCount;
                continue;
            }

            // A chunk across the cutoff keeps its recent rows.
            var data = await db.Chunks.AsNoTracking().Where(c => c.DatasetId == datasetId && c.Seq == chunk.Seq).Select(c => c.Data).FirstAsync(ct);
            var rows = new UsageColumns(chunk.RowCount);
            rows.AppendEncoded(data);
            var kept = new UsageColumns(rows.Count);
            for (var i = 0; i < rows.Count; i++)
            {
                if (rows.Timestamp[i] >= cutoffMs)
                {
                    kept.Add(rows.RowAt(i));
                }
            }

            var (min, max) = Range(kept, 0, kept.Count);
            var encoded = kept.Encode();
            var keptCount = kept.Count;
            var updated = await db.Chunks.Where(c => c.DatasetId == datasetId && c.Seq == chunk.Seq && c.RowCount == chunk.RowCount)
                .ExecuteUpdateAsync(s => s.SetProperty(c => c.Data, encoded).SetProperty(c => c.RowCount, keptCount)
                    .SetProperty(c => c.MinTimestampMs, min).SetProperty(c => c.MaxTimestampMs, max), ct);
            dropped += updated * (chunk.RowCount - keptCount);
        }

        // The summary is recomputed from what is left: the chunks' own counts and ranges.
        var left = await db.Chunks.AsNoTracking().Where(c => c.DatasetId == datasetId)
            .GroupBy(c => c.DatasetId)
            .Select(g => new { Rows = g.Sum(c => c.RowCount), Min = g.Min(c => c.MinTimestampMs), Max = g.Max(c => c.MaxTimestampMs) })
            .FirstOrDefaultAsync(ct);
        var rowsLeft = left?.Rows ?? 0;
        long? start = left?.Min, end = left?.Max;
        await db.Datasets.Where(d => d.Id == datasetId).ExecuteUpdateAsync(s => s
            .SetProperty(d => d.Rows, rowsLeft).SetProperty(d => d.Calls, (long)rowsLeft)
            .SetProperty(d => d.PeriodStartMs, start).SetProperty(d => d.PeriodEndMs, end), ct);
        await db.LiveDailyCosts.Where(x => x.DatasetId == datasetId && x.Day < cutoffDay).ExecuteDeleteAsync(ct);
        await transaction.CommitAsync(ct);
        return dropped;
    }

    /// <summary>The batch's cost and calls per UTC day and feature (rows without a known cost count as calls only).</summary>
    private static Dictionary<(long Day, string Feature), (double Cost, long Calls)> DailyCosts(UsageColumns rows)
    {
        var daily = new Dictionary<(long, string), (double, long)>();
        for (var i = 0; i < rows.Count; i++)
        {
            var key = (rows.Timestamp[i] / 86_400_000, rows.Strings[rows.Feature[i]]);
            daily.TryGetValue(key, out var sum);
            var cost = rows.Cost[i];
            daily[key] = (sum.Item1 + (double.IsNaN(cost) ? 0 : cost), sum.Item2 + rows.Requests[i]);
        }

        return daily;
    }

    private static (long Min, long Max) Range(UsageColumns rows, int start, int count)
    {
        long min = long.MaxValue, max = long.MinValue;
        for (var i = start; i < start + count; i++)
        {
            min = Math.Min(min, rows.Timestamp[i]);
            max = Math.Max(max, rows.Timestamp[i]);
        }

        return count == 0 ? (0, 0) : (min, max);
    }

    [LoggerMessage(EventId = 4401, Level = LogLevel.Debug, Message = "Live dataset {DatasetId}: a concurrent writer changed the newest chunk; append attempt {Attempt} starts again")]
    private static partial void LogAppendRetry(ILogger logger, string datasetId, int attempt);
}

/// <summary>The key's live dataset was deleted between authentication and the write.</summary>
internal sealed class LiveDatasetGoneException(string datasetId) : Exception($"Live dataset {datasetId} no longer exists.");
