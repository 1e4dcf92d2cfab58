using Microsoft.EntityFrameworkCore;

namespace Apex.Chat.Live;

/// <summary>
/// An ingest key: it authenticates OTLP exports to <c>/v1/traces</c> and feeds one live dataset. Only
/// the SHA-256 of the key is stored; the key itself is shown once, when it is created.
/// </summary>
internal sealed class IngestKey
{
    public required string Id { get; set; }
    public required string UserId { get; set; }
    public required string Name { get; set; }

    /// <summary>Lowercase hex SHA-256 of the whole key.</summary>
    public required string KeyHash { get; set; }

    /// <summary>The key's first 12 characters, shown in lists so the owner can tell keys apart.</summary>
    public required string KeyPrefix { get; set; }
    public required string DatasetId { get; set; }
    public long CreatedAtMs { get; set; }
    public long? LastUsedAtMs { get; set; }
    public long? RevokedAtMs { get; set; }
}

/// <summary>
/// Spend of one live dataset per UTC day and feature, kept up to date by each ingested batch (in the
/// same transaction as its rows) so budgets are checked without reading the rows.
/// </summary>
internal sealed class LiveDailyCost
{
    public required string DatasetId { get; set; }

    /// <summary>Days since 1970-01-01 (UTC).</summary>
    public long Day { get; set; }

    /// <summary>The rows' feature; empty for none.</summary>
    public required string Feature { get; set; }
    public double CostUsd { get; set; }
    public long Calls { get; set; }
}

/// <summary>The budget of one dataset (docs/spec/rest-api.md, "Budgets and alerts").</summary>
internal sealed class DatasetBudget
{
    public required string DatasetId { get; set; }
    public required string UserId { get; set; }
    public double MonthlyUsd { get; set; }

    /// <summary>JSON object from feature to monthly USD.</summary>
    public required string FeaturesJson { get; set; }
    public string? WebhookUrl { get; set; }

    /// <summary>Signs webhook bodies; it is needed in clear to sign, so it is stored as given and never logged.</summary>
    public string? WebhookSecret { get; set; }
    public double SpikeFactor { get; set; }
    public long UpdatedAtMs { get; set; }
}

/// <summary>A sent alert. The unique (dataset, kind, feature, period) index makes it fire once, on any node.</summary>
internal sealed class UsageAlertRow
{
    public required string Id { get; set; }
    public required string UserId { get; set; }
    public required string DatasetId { get; set; }
    public required string Kind { get; set; }

    /// <summary>Empty for an alert about the whole dataset.</summary>
    public required string Feature { get; set; }

    /// <summary><c>yyyy-MM</c> for budget alerts, <c>yyyy-MM-dd</c> for a daily spike.</summary>
    public required string Period { get; set; }

    /// <summary>The alert object as sent (docs/spec/rest-api.md).</summary>
    public required string Json { get; set; }
    public long CreatedAtMs { get; set; }
}

internal static class LiveModel
{
    public static void Configure(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<IngestKey>(e =>
        {
            e.ToTable("ingest_keys");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasMaxLength(64);
            e.Property(x => x.UserId).HasMaxLength(64);
            e.Property(x => x.Name).HasMaxLength(LiveLimits.MaxKeyNameLength);
            e.Property(x => x.KeyHash).HasMaxLength(64);
            e.Property(x => x.KeyPrefix).HasMaxLength(16);
            e.Property(x => x.DatasetId).HasMaxLength(64);
            e.HasIndex(x => x.KeyHash).IsUnique();
            e.HasIndex(x => new { x.UserId, x.Id });
            // Deleting the live dataset ends its key too: a key must always have somewhere to write.
            e.HasOne<Datasets.Dataset>().WithMany().HasForeignKey(x => x.DatasetId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<LiveDailyCost>(e =>
        {
            e.ToTable("live_daily_costs");
            e.HasKey(x => new { x.DatasetId, x.Day, x.Feature });
            e.Property(x => x.DatasetId).HasMaxLength(64);
            e.Property(x => x.Feature).HasMaxLength(256);
            e.HasOne<Datasets.Dataset>().WithMany().HasForeignKey(x => x.DatasetId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<DatasetBudget>(e =>
        {
            e.ToTable("dataset_budgets");
            e.HasKey(x => x.DatasetId);
            e.Property(x => x.DatasetId).HasMaxLength(64);
            e.Property(x => x.UserId).HasMaxLength(64);
            e.Property(x => x.WebhookUrl).HasMaxLength(LiveLimits.MaxWebhookUrlLength);
            e.Property(x => x.WebhookSecret).HasMaxLength(128);
            e.HasOne<Datasets.Dataset>().WithMany().HasForeignKey(x => x.DatasetId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<UsageAlertRow>(e =>
        {
            e.ToTable("usage_alerts");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasMaxLength(64);
            e.Property(x => x.UserId).HasMaxLength(64);
            e.Property(x => x.DatasetId).HasMaxLength(64);
            e.Property(x => x.Kind).HasMaxLength(32);
            e.Property(x => x.Feature).HasMaxLength(256);
            e.Property(x => x.Period).HasMaxLength(16);
            e.HasIndex(x => new { x.DatasetId, x.Kind, x.Feature, x.Period }).IsUnique();
            e.HasIndex(x => new { x.UserId, x.Id });
            e.HasOne<Datasets.Dataset>().WithMany().HasForeignKey(x => x.DatasetId).OnDelete(DeleteBehavior.Cascade);
        });
    }
}
