using Apex.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Apex.Chat.Data;

internal sealed class ChatDbContext(DbContextOptions<ChatDbContext> options) : DbContext(options)
{
    public DbSet<ChatThread> Threads => Set<ChatThread>();
    public DbSet<ChatMessage> Messages => Set<ChatMessage>();
    public DbSet<ChatRun> Runs => Set<ChatRun>();
    public DbSet<ChatRunEvent> RunEvents => Set<ChatRunEvent>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<ChatThread>(e =>
        {
            e.ToTable("chat_threads");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasMaxLength(64);
            e.Property(x => x.UserId).HasMaxLength(64);
            e.Property(x => x.Title).HasMaxLength(ChatLimits.MaxTitleLength);
            e.Property(x => x.LastRunStatus).HasMaxLength(16);
            e.Property(x => x.LastDatasetId).HasMaxLength(64);
            e.Property(x => x.ActiveRunId).HasMaxLength(64);
            // The list query: the caller's threads by last activity.
            e.HasIndex(x => new { x.UserId, x.Archived, x.UpdatedAt, x.Id });
        });

        modelBuilder.Entity<ChatMessage>(e =>
        {
            e.ToTable("chat_messages");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasMaxLength(64);
            e.Property(x => x.ThreadId).HasMaxLength(64);
            e.Property(x => x.UserId).HasMaxLength(64);
            e.Property(x => x.Role).HasMaxLength(16);
            e.Property(x => x.RunId).HasMaxLength(64);
            e.Property(x => x.DatasetId).HasMaxLength(64);
            e.HasOne<ChatThread>().WithMany().HasForeignKey(x => x.ThreadId).OnDelete(DeleteBehavior.Cascade);
            e.HasIndex(x => new { x.ThreadId, x.CreatedAt, x.Id });
        });

        modelBuilder.Entity<ChatRun>(e =>
        {
            e.ToTable("chat_runs");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasMaxLength(64);
            e.Property(x => x.ThreadId).HasMaxLength(64);
            e.Property(x => x.UserId).HasMaxLength(64);
            e.Property(x => x.Status).HasMaxLength(16);
            e.Property(x => x.DatasetId).HasMaxLength(64);
            e.Property(x => x.ErrorCode).HasMaxLength(64);
            e.HasOne<ChatThread>().WithMany().HasForeignKey(x => x.ThreadId).OnDelete(DeleteBehavior.Cascade);
            e.HasIndex(x => x.ThreadId);
            e.HasIndex(x => x.Status);
        });

        modelBuilder.Entity<ChatRunEvent>(e =>
        {
            e.ToTable("chat_run_events");
            e.HasKey(x => x.Id);
            e.Property(x => x.RunId).HasMaxLength(64);
            e.Property(x => x.UserId).HasMaxLength(64);
            e.Property(x => x.Type).HasMaxLength(64);
            e.HasOne<ChatRun>().WithMany().HasForeignKey(x => x.RunId).OnDelete(DeleteBehavior.Cascade);
            e.HasIndex(x => new { x.RunId, x.Seq });
        });

        if (Database.IsSqlite())
        {
            // SQLite has no date type that orders correctly with an offset; UTC ticks do, and keyset
            // pagination compares these columns.
            foreach (var property in modelBuilder.Model.GetEntityTypes().SelectMany(t => t.GetProperties()))
            {
                if (property.ClrType == typeof(DateTimeOffset))
                {
                    property.SetValueConverter(UtcTicks);
                }
                else if (property.ClrType == typeof(DateTimeOffset?))
                {
                    property.SetValueConverter(NullableUtcTicks);
                }
            }
        }
    }

    private static readonly Microsoft.EntityFrameworkCore.Storage.ValueConversion.ValueConverter<DateTimeOffset, long> UtcTicks =
        new(v => v.UtcTicks, v => new DateTimeOffset(v, TimeSpan.Zero));

    private static readonly Microsoft.EntityFrameworkCore.Storage.ValueConversion.ValueConverter<DateTimeOffset?, long?> NullableUtcTicks =
        new(v => v.HasValue ? v.Value.UtcTicks : null, v => v.HasValue ? new DateTimeOffset(v.Value, TimeSpan.Zero) : null);
}

/// <summary>Used by <c>dotnet ef</c> only: the SQLite model with default settings.</summary>
internal sealed class ChatDbContextDesignFactory : IDesignTimeDbContextFactory<ChatDbContext>
{
    public ChatDbContext CreateDbContext(string[] args)
    {
        var builder = new DbContextOptionsBuilder<ChatDbContext>();
        Database.Configure(builder, new ApexOptions { DataDir = Path.GetTempPath() }, new DatabaseOptions(), Database.HistoryTable<ChatDbContext>());
        return new ChatDbContext(builder.Options);
    }
}
