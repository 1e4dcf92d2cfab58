using Apex.Auth.Data;
using Apex.Auth.Passwords;
using Apex.Auth.Tokens;
using Microsoft.EntityFrameworkCore;

namespace Apex.Auth.Users;

internal sealed record UserSummary(string Id, string Email, string? Name, DateTimeOffset CreatedAt, DateTimeOffset? DisabledAt, bool HasPassword);

internal enum AddUserOutcome
{
    Added,
    InvalidEmail,
    WeakPassword,
    InvalidName,
    EmailTaken,
}

/// <summary>Account administration for <c>apex user</c>, with the same rules as the HTTP routes.</summary>
internal sealed class UserAdmin(AuthDbContext db, PasswordService passwords, SessionService sessions, TimeProvider time)
{
    public async Task<(AddUserOutcome Outcome, string Message)> AddAsync(string email, string password, string? name, CancellationToken ct)
    {
        email = UserRules.NormalizeEmail(email);
        if (UserRules.EmailProblem(email) is { } emailProblem)
        {
            return (AddUserOutcome.InvalidEmail, emailProblem);
        }

        if (passwords.Weakness(password, email) is { } weakness)
        {
            return (AddUserOutcome.WeakPassword, weakness);
        }

        name = string.IsNullOrWhiteSpace(name) ? null : name.Trim();
        if (name is not null && UserRules.NameProblem(name) is { } nameProblem)
        {
            return (AddUserOutcome.InvalidName, nameProblem);
        }

        return await CreateAsync(email, password, name, ct) is { } user
            ? (AddUserOutcome.Added, user.Id)
            : (AddUserOutcome.EmailTaken, "An account with this email already exists.");
    }

    /// <summary>
    /// Stores a new account whose normalised email, password and name already passed the rules
    /// (registration and <c>apex user add</c> report rule failures in their own shapes); a null
    /// password makes an account that signs in through a provider only.
    /// Null when the email is taken, including a lost race with a concurrent registration.
    /// </summary>
    public async Task<UserRecord?> CreateAsync(string email, string? password, string? name, CancellationToken ct)
    {
        if (await db.Users.AsNoTracking().AnyAsync(u => u.Email == email, ct))
        {
            return null;
        }

        var user = new UserRecord
        {
            Id = Apex.Contracts.ApexIds.New(Apex.Contracts.ApexIds.User),
            Email = email,
            Name = name,
            PasswordHash = password is null ? null : passwords.Hash(password),
            CreatedAt = time.GetUtcNow(),
        };
        db.Users.Add(user);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // The unique index on the email decided a race with a concurrent registration.
            db.Entry(user).State = EntityState.Detached;
            return null;
        }

        return user;
    }

    public async Task<IReadOnlyList<UserSummary>> ListAsync(int limit, CancellationToken ct)
    {
        var rows = await db.Users.AsNoTracking()
            .OrderBy(u => u.Id)
            .Take(limit)
            .Select(u => new UserSummary(u.Id, u.Email, u.Name, u.CreatedAt, u.DisabledAt, u.PasswordHash != null))
            .ToListAsync(ct);
        return rows;
    }

    /// <summary>Disables an account and ends its sessions; null if there is no such account.</summary>
    public async Task<(string UserId, int SessionsEnded)?> DisableAsync(string emailOrId, CancellationToken ct)
    {
        var email = UserRules.NormalizeEmail(emailOrId);
        var id = emailOrId.Trim();
        var user = await db.Users.AsNoTracking().Where(u => u.Email == email || u.Id == id).FirstOrDefaultAsync(ct);
        if (user is null)
        {
            return null;
        }

        var now = time.GetUtcNow();
        var userId = user.Id;
        await db.Users.Where(u => u.Id == userId && u.DisabledAt == null).ExecuteUpdateAsync(s => s.SetProperty(u => u.DisabledAt, now), ct);
        var ended = await sessions.RevokeAllAsync(userId, ct);
        return (userId, ended);
    }
}
