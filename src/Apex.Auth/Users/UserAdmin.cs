using Apex.Auth.Data;
using Apex.Auth.Passwords;
using Apex.Auth.Tokens;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

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
internal sealed partial class UserAdmin(AuthDbContext db, PasswordService passwords, SessionService sessions, TimeProvider time, ILogger<UserAdmin> logger)
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
            db.Entry(user).State = EntityState.Detached;
            if (!await db.Users.AsNoTracking().AnyAsync(u => u.Email == email, ct))
            {
                throw;
            }

            // The unique index on the email decided a race with a concurrent registration: an
            // expected outcome (the caller answers 409), not a fault.
            LogRegistrationRaceLost(logger);
            return null;
        }

        return user;
    }

    /// <summary>
    /// Brings emails stored under an older normalisation (NFC only, or none where the runtime could
    /// not normalise) to the current form, so that lookups by the normalised form find them. An email
    /// whose new form another account already has is left as it is and reported: merging two accounts
    /// is an administrator's decision.
    /// </summary>
    public async Task<(int Updated, int Conflicts)> RenormalizeEmailsAsync(CancellationToken ct)
    {
        var rows = await db.Users.AsNoTracking().Select(u => new { u.Id, u.Email }).ToListAsync(ct);
        var taken = rows.Select(r => r.Email).ToHashSet(StringComparer.Ordinal);
        var (updated, conflicts) = (0, 0);
        foreach (var row in rows)
        {
            var normalized = UserRules.NormalizeEmail(row.Email);
            if (normalized == row.Email)
            {
                continue;
            }

            if (taken.Contains(normalized))
            {
                conflicts++;
                LogRenormalizeConflict(logger, row.Id);
                continue;
            }

            var id = row.Id;
            try
            {
                await db.Users.Where(u => u.Id == id).ExecuteUpdateAsync(s => s.SetProperty(u => u.Email, normalized), ct);
            }
            catch (Exception e) when (e is DbUpdateException or System.Data.Common.DbException)
            {
                // The normalised form was taken since the list was read (a registration, or another node
                // starting at once): the same decision as a conflict found in the list.
                conflicts++;
                LogRenormalizeConflict(logger, row.Id);
                continue;
            }

            taken.Remove(row.Email);
            taken.Add(normalized);
            updated++;
        }

        return (updated, conflicts);
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

    /// <summary>The id of the account with this email (or id); null if there is none.</summary>
    public async Task<string?> FindIdAsync(string emailOrId, CancellationToken ct)
    {
        var email = UserRules.NormalizeEmail(emailOrId);
        var id = emailOrId.Trim();
        return await db.Users.AsNoTracking().Where(u => u.Email == email || u.Id == id).Select(u => u.Id).FirstOrDefaultAsync(ct);
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

    [LoggerMessage(EventId = 1161, Level = LogLevel.Information, Message = "A registration lost the race for its email to a concurrent one (answered 409)")]
    private static partial void LogRegistrationRaceLost(ILogger logger);

    [LoggerMessage(EventId = 1162, Level = LogLevel.Warning, Message = "User {UserId}: its email's normalised form belongs to another account; left unchanged")]
    private static partial void LogRenormalizeConflict(ILogger logger, string userId);
}
