using Apex.Auth.Data;
using Apex.Auth.Users;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Apex.Auth.Oidc;

/// <summary>
/// Finds or makes the Apex account of a provider identity: an identity already linked signs in its
/// account; otherwise a verified email links to the account of that email or creates one (when
/// registration is open). An unverified email never links nor creates: whoever controls the
/// provider account has not shown they own the address.
/// </summary>
internal sealed class OidcAccounts(AuthDbContext db, UserAdmin accounts, IOptions<AuthOptions> options, TimeProvider time)
{
    public async Task<UserRecord> SignInAsync(OidcProvider provider, OidcIdentity identity, CancellationToken ct)
    {
        var linked = await db.Identities.AsNoTracking()
            .Where(i => i.Provider == provider.Name && i.Subject == identity.Subject)
            .Select(i => i.UserId)
            .FirstOrDefaultAsync(ct);
        if (linked is not null)
        {
            var owner = await db.Users.AsNoTracking().Where(u => u.Id == linked).FirstOrDefaultAsync(ct);
            return owner is { DisabledAt: null }
                ? owner
                : throw new OidcRefusal("account_disabled", "This account is disabled.");
        }

        if (identity.Email is null)
        {
            throw new OidcRefusal("email_missing", $"{provider.DisplayName} did not share an email address; allow the email scope and try again.");
        }

        if (!identity.EmailVerified)
        {
            throw new OidcRefusal("email_unverified", $"{provider.DisplayName} has not verified this email address, so it cannot sign in to an Apex account.");
        }

        var email = UserRules.NormalizeEmail(identity.Email);
        if (UserRules.EmailProblem(email) is not null)
        {
            throw new OidcRefusal("email_invalid", $"The email address {provider.DisplayName} gave cannot be used here.");
        }

        var user = await FindByEmailAsync(email, ct);
        if (user is null)
        {
            if (!options.Value.RegistrationOpen)
            {
                throw new OidcRefusal("registration_closed", "There is no account with this email, and registration is closed on this deployment.");
            }

            var name = identity.Name?.Trim();
            if (name is not null && UserRules.NameProblem(name) is not null)
            {
                name = null;
            }

            // A concurrent sign-in may have created the account first: then link to that one.
            user = await accounts.CreateAsync(email, password: null, name, ct) ?? await FindByEmailAsync(email, ct)
                ?? throw new OidcRefusal("account_conflict", "The account could not be created; try again.");
        }

        if (user.DisabledAt is not null)
        {
            throw new OidcRefusal("account_disabled", "This account is disabled.");
        }

        var record = new IdentityRecord
        {
            Provider = provider.Name,
            Subject = identity.Subject,
            UserId = user.Id,
            Email = email,
            CreatedAt = time.GetUtcNow(),
        };
        db.Identities.Add(record);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            db.Entry(record).State = EntityState.Detached;
            var winner = await db.Identities.AsNoTracking()
                .Where(i => i.Provider == provider.Name && i.Subject == identity.Subject)
                .Select(i => i.UserId)
                .FirstOrDefaultAsync(ct);
            if (winner != user.Id)
            {
                // The account already has another identity at this provider.
                throw new OidcRefusal("already_linked", $"This account is already linked to another {provider.DisplayName} identity.");
            }
        }

        return user;
    }

    /// <summary>Provider names linked to the account, for <c>/auth/me</c>.</summary>
    public Task<List<string>> ProvidersOfAsync(string userId, CancellationToken ct) =>
        db.Identities.AsNoTracking().Where(i => i.UserId == userId).OrderBy(i => i.Provider).Select(i => i.Provider).ToListAsync(ct);

    /// <summary>
    /// Removes the account's identity at a provider unless it is the last way to sign in.
    /// Null when there is no such identity; false when it is the last one.
    /// </summary>
    public async Task<bool?> UnlinkAsync(string userId, string provider, CancellationToken ct)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var identities = await db.Identities.Where(i => i.UserId == userId).ToListAsync(ct);
        var target = identities.FirstOrDefault(i => i.Provider == provider);
        if (target is null)
        {
            return null;
        }

        var hasPassword = await db.Users.AsNoTracking().AnyAsync(u => u.Id == userId && u.PasswordHash != null, ct);
        if (!hasPassword && identities.Count == 1)
        {
            return false;
        }

        db.Identities.Remove(target);
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        return true;
    }

    /// <summary>The one email lookup of provider sign-in (emails are stored normalised).</summary>
    private Task<UserRecord?> FindByEmailAsync(string normalizedEmail, CancellationToken ct) =>
        db.Users.AsNoTracking().Where(u => u.Email == normalizedEmail).FirstOrDefaultAsync(ct);
}
