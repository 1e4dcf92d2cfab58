using Apex.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Apex.Auth.Data;

/// <summary>Users, login sessions (refresh-token families), revocations and login throttling.</summary>
public sealed class AuthDbContext(DbContextOptions<AuthDbContext> options) : DbContext(options)
{
    internal DbSet<UserRecord> Users => Set<UserRecord>();
    internal DbSet<SessionRecord> Sessions => Set<SessionRecord>();
    internal DbSet<RevocationRecord> Revocations => Set<RevocationRecord>();
    internal DbSet<LoginThrottleRecord> LoginThrottles => Set<LoginThrottleRecord>();
    internal DbSet<Oidc.IdentityRecord> Identities => Set<Oidc.IdentityRecord>();
    internal DbSet<Oidc.OidcFlowRecord> OidcFlows => Set<Oidc.OidcFlowRecord>();
    internal DbSet<Oidc.OidcHandoffRecord> OidcHandoffs => Set<Oidc.OidcHandoffRecord>();

    /// <summary>
    /// A failed save is an exception its caller sees: a handled one (the unique email index deciding
    /// a registration race) is expected and logged by the caller at Information; an unhandled one
    /// reaches the HTTP middleware, which logs it with its correlation. EF Core's own Error entries
    /// with the stack would only duplicate the latter and mislabel the former. Set at registration,
    /// since a pooled context cannot change its options in OnConfiguring.
    /// </summary>
    internal static void QuietFailedSaves(DbContextOptionsBuilder optionsBuilder) =>
        optionsBuilder.ConfigureWarnings(w => w.Ignore(
            Microsoft.EntityFrameworkCore.Diagnostics.CoreEventId.SaveChangesFailed,
            Microsoft.EntityFrameworkCore.Diagnostics.RelationalEventId.CommandError));

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // Unix milliseconds: SQLite cannot compare DateTimeOffset text, and integers order the same
        // on every provider.
        configurationBuilder.Properties<DateTimeOffset>().HaveConversion<UnixMillisecondsConverter>();
        configurationBuilder.Properties<DateTimeOffset?>().HaveConversion<UnixMillisecondsConverter>();
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<UserRecord>(e =>
        {
            e.ToTable("auth_users");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasMaxLength(40);
            e.Property(x => x.Email).HasMaxLength(320);
            e.HasIndex(x => x.Email).IsUnique();
            e.Property(x => x.Name).HasMaxLength(200);
            e.Property(x => x.PasswordHash).HasMaxLength(512);
        });
        modelBuilder.Entity<SessionRecord>(e =>
        {
            e.ToTable("auth_sessions");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasMaxLength(40);
            e.Property(x => x.UserId).HasMaxLength(40);
            e.Property(x => x.CurrentTokenId).HasMaxLength(40);
            e.HasIndex(x => x.UserId);
        });
        modelBuilder.Entity<RevocationRecord>(e =>
        {
            e.ToTable("auth_revocations");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).ValueGeneratedOnAdd();
            e.Property(x => x.TokenId).HasMaxLength(40);
            e.HasIndex(x => x.ExpiresAt);
        });
        modelBuilder.Entity<LoginThrottleRecord>(e =>
        {
            e.ToTable("auth_login_throttles");
            e.HasKey(x => x.Key);
            e.Property(x => x.Key).HasMaxLength(320);
        });
        Oidc.OidcModel.Configure(modelBuilder);
    }
}

internal sealed class UnixMillisecondsConverter() : ValueConverter<DateTimeOffset, long>(
    v => v.ToUnixTimeMilliseconds(),
    v => DateTimeOffset.FromUnixTimeMilliseconds(v));

internal sealed class UserRecord
{
    public required string Id { get; set; }

    /// <summary>Normalised (trimmed, lower-case) so uniqueness is case-insensitive on every provider.</summary>
    public required string Email { get; set; }

    public string? Name { get; set; }

    /// <summary>Null for accounts without a password (dev login, later OIDC).</summary>
    public string? PasswordHash { get; set; }

    public required DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? DisabledAt { get; set; }
}

/// <summary>One login: the family of refresh tokens it rotates through.</summary>
internal sealed class SessionRecord
{
    public required string Id { get; set; }
    public required string UserId { get; set; }

    /// <summary>The jti of the only refresh token of this family that may still be used.</summary>
    public required string CurrentTokenId { get; set; }

    public required DateTimeOffset CreatedAt { get; set; }

    /// <summary>Absolute end of the session, whatever the refreshes.</summary>
    public required DateTimeOffset ExpiresAt { get; set; }

    public DateTimeOffset? RevokedAt { get; set; }
}

internal enum RevocationKind
{
    Token = 1,
    Session = 2,
}

/// <summary>
/// An append-only log of revoked access-token ids and sessions; nodes follow it by id so that
/// every node refuses a revoked token within one poll interval.
/// </summary>
internal sealed class RevocationRecord
{
    public long Id { get; set; }
    public required RevocationKind Kind { get; set; }
    public required string TokenId { get; set; }

    /// <summary>After this the revoked token would be refused anyway; the row can go.</summary>
    public required DateTimeOffset ExpiresAt { get; set; }

    public required DateTimeOffset RevokedAt { get; set; }
}

/// <summary>Failed-login counter per normalised email, known or not, so answers do not differ.</summary>
internal sealed class LoginThrottleRecord
{
    public required string Key { get; set; }
    public int Failures { get; set; }
    public DateTimeOffset? LockedUntil { get; set; }
    public DateTimeOffset LastFailureAt { get; set; }
}

internal sealed class AuthDbContextFactory : IDesignTimeDbContextFactory<AuthDbContext>
{
    public AuthDbContext CreateDbContext(string[] args)
    {
        var builder = new DbContextOptionsBuilder<AuthDbContext>();
        Database.Configure(builder, new ApexOptions(), new DatabaseOptions { ConnectionString = "Data Source=design.db" }, Database.HistoryTable<AuthDbContext>());
        return new AuthDbContext(builder.Options);
    }
}
