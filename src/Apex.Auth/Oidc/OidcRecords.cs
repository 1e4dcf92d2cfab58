using Microsoft.EntityFrameworkCore;

namespace Apex.Auth.Oidc;

/// <summary>An identity at an OpenID Connect provider (provider + subject) linked to an Apex account.</summary>
internal sealed class IdentityRecord
{
    public required string Provider { get; set; }

    /// <summary>The provider's stable <c>sub</c> for the person; emails can change, this does not.</summary>
    public required string Subject { get; set; }

    public required string UserId { get; set; }

    /// <summary>The verified email the provider gave when the identity was linked.</summary>
    public required string Email { get; set; }

    public required DateTimeOffset CreatedAt { get; set; }
}

/// <summary>
/// One sign-in attempt between the redirect to the provider and its callback, keyed by the SHA-256
/// of its <c>state</c>. Kept in the shared database so any node can take the callback; deleted when
/// the callback uses it, so a state works once.
/// </summary>
internal sealed class OidcFlowRecord
{
    public required string Id { get; set; }
    public required string Provider { get; set; }
    public required string Nonce { get; set; }
    public required string CodeVerifier { get; set; }
    public required string RedirectUri { get; set; }
    public required DateTimeOffset ExpiresAt { get; set; }
}

/// <summary>The one-time code the callback hands to the web app, keyed by its SHA-256; used once, within 60 s.</summary>
internal sealed class OidcHandoffRecord
{
    public required string Id { get; set; }
    public required string UserId { get; set; }
    public required DateTimeOffset ExpiresAt { get; set; }
}

internal static class OidcModel
{
    public static void Configure(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<IdentityRecord>(e =>
        {
            e.ToTable("auth_identities");
            e.HasKey(x => new { x.Provider, x.Subject });
            e.Property(x => x.Provider).HasMaxLength(32);
            e.Property(x => x.Subject).HasMaxLength(255);
            e.Property(x => x.UserId).HasMaxLength(40);
            e.Property(x => x.Email).HasMaxLength(320);
            // One identity per provider and account, so unlinking by provider is unambiguous.
            e.HasIndex(x => new { x.UserId, x.Provider }).IsUnique();
        });
        modelBuilder.Entity<OidcFlowRecord>(e =>
        {
            e.ToTable("auth_oidc_flows");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasMaxLength(64);
            e.Property(x => x.Provider).HasMaxLength(32);
            e.Property(x => x.Nonce).HasMaxLength(64);
            e.Property(x => x.CodeVerifier).HasMaxLength(128);
            e.Property(x => x.RedirectUri).HasMaxLength(2048);
            e.HasIndex(x => x.ExpiresAt);
        });
        modelBuilder.Entity<OidcHandoffRecord>(e =>
        {
            e.ToTable("auth_oidc_handoffs");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasMaxLength(64);
            e.Property(x => x.UserId).HasMaxLength(40);
            e.HasIndex(x => x.ExpiresAt);
        });
    }
}
