using Apex.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Apex.Chat.Datasets;

/// <summary>A stored usage dataset: its summary; the rows live in <see cref="DatasetChunk"/>s.</summary>
internal sealed class Dataset
{
    public required string Id { get; set; }
    public required string UserId { get; set; }
    public required string Name { get; set; }
    public int Rows { get; set; }

    /// <summary>JSON array of the upload's column names.</summary>
    public required string ColumnsJson { get; set; }

    /// <summary>JSON array of the parse warnings.</summary>
    public required string WarningsJson { get; set; }

    /// <summary>Unix milliseconds (UTC); integers order and compare the same on every database.</summary>
    public long? PeriodStartMs { get; set; }
    public long? PeriodEndMs { get; set; }
    public long CreatedAtMs { get; set; }
    public long StoredBytes { get; set; }

    /// <summary>The recognised export format's stable id (docs/spec/usage-imports.md).</summary>
    public string SourceFormat { get; set; } = "apex";
    public string SourceFormatName { get; set; } = "Apex usage columns";

    /// <summary>Calls the rows stand for (aggregated rows' request counts summed).</summary>
    public long Calls { get; set; }
    public bool Aggregated { get; set; }
    public bool CostOnly { get; set; }

    /// <summary><c>upload</c> or <c>live</c> (fed by an ingest key; see <c>Apex.Chat.Live</c>).</summary>
    public string Kind { get; set; } = Agents.Data.UsageDatasetKinds.Upload;
}

/// <summary>Up to 65,536 rows in the compressed column format of <c>UsageColumns</c>.</summary>
internal sealed class DatasetChunk
{
    public required string DatasetId { get; set; }
    public int Seq { get; set; }

    /// <summary>Repeated here so every read carries the owner check in its own WHERE.</summary>
    public required string UserId { get; set; }
    public int RowCount { get; set; }
    public required byte[] Data { get; set; }

    /// <summary>Oldest and newest row (Unix ms) of a live dataset's chunk: retention drops old chunks without decoding them.</summary>
    public long? MinTimestampMs { get; set; }
    public long? MaxTimestampMs { get; set; }
}

internal sealed class DatasetsDbContext(DbContextOptions<DatasetsDbContext> options) : DbContext(options)
{
    public DbSet<Dataset> Datasets => Set<Dataset>();
    public DbSet<DatasetChunk> Chunks => Set<DatasetChunk>();
    public DbSet<Live.IngestKey> IngestKeys => Set<Live.IngestKey>();
    public DbSet<Live.LiveDailyCost> LiveDailyCosts => Set<Live.LiveDailyCost>();
    public DbSet<Live.DatasetBudget> Budgets => Set<Live.DatasetBudget>();
    public DbSet<Live.UsageAlertRow> Alerts => Set<Live.UsageAlertRow>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Dataset>(e =>
        {
            e.ToTable("datasets");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasMaxLength(64);
            e.Property(x => x.UserId).HasMaxLength(64);
            e.Property(x => x.Name).HasMaxLength(DatasetLimits.MaxNameLength);
            e.Property(x => x.SourceFormat).HasMaxLength(64).HasDefaultValue("apex");
            e.Property(x => x.SourceFormatName).HasMaxLength(128).HasDefaultValue("Apex usage columns");
            e.Property(x => x.Kind).HasMaxLength(16).HasDefaultValue(Agents.Data.UsageDatasetKinds.Upload);
            // The list query: the caller's datasets, newest first (ids are time-sortable).
            e.HasIndex(x => new { x.UserId, x.Id });
        });

        modelBuilder.Entity<DatasetChunk>(e =>
        {
            e.ToTable("dataset_chunks");
            e.HasKey(x => new { x.DatasetId, x.Seq });
            e.Property(x => x.DatasetId).HasMaxLength(64);
            e.Property(x => x.UserId).HasMaxLength(64);
            e.HasOne<Dataset>().WithMany().HasForeignKey(x => x.DatasetId).OnDelete(DeleteBehavior.Cascade);
        });

        Live.LiveModel.Configure(modelBuilder);
    }
}

/// <summary>Used by <c>dotnet ef</c> only: the SQLite model with default settings.</summary>
internal sealed class DatasetsDbContextDesignFactory : IDesignTimeDbContextFactory<DatasetsDbContext>
{
    public DatasetsDbContext CreateDbContext(string[] args)
    {
        var builder = new DbContextOptionsBuilder<DatasetsDbContext>();
        Database.Configure(builder, new ApexOptions { DataDir = Path.GetTempPath() }, new DatabaseOptions(), Database.HistoryTable<DatasetsDbContext>());
        return new DatasetsDbContext(builder.Options);
    }
}
