using Apex.Auth.Data;
using Apex.Auth.Revocation;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Apex.Auth.Tokens;

internal sealed record TokenPairIssue(IssuedToken Access, IssuedToken Refresh, string SessionId);

/// <summary>
/// Login sessions: each is a family of refresh tokens of which exactly one is current. Rotation is
/// one conditional UPDATE on the session row, so of any number of concurrent uses of one refresh
/// token exactly one wins; any other use of a non-current token is reuse and revokes the family.
/// </summary>
internal sealed partial class SessionService(
    AuthDbContext db,
    TokenService tokens,
    IRevocationStore revocations,
    IOptions<AuthOptions> options,
    TimeProvider time,
    ILogger<SessionService> logger)
{
    private readonly AuthOptions _options = options.Value;

    public async Task<TokenPairIssue> StartAsync(UserRecord user, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var session = new SessionRecord
        {
            Id = "ses_" + Guid.CreateVersion7().ToString("N"),
            UserId = user.Id,
            CurrentTokenId = "",
            CreatedAt = now,
            ExpiresAt = now + TimeSpan.FromDays(_options.SessionDays),
        };
        var (access, refresh) = await MintAsync(user.Id, user.Email, session.Id, session.ExpiresAt, now, ct);
        session.CurrentTokenId = refresh.TokenId;
        db.Sessions.Add(session);
        await db.SaveChangesAsync(ct);
        LogSessionStarted(logger, user.Id, session.Id);
        return new TokenPairIssue(access, refresh, session.Id);
    }

    /// <summary>Rotates a refresh token: a new pair, or the reason it was refused.</summary>
    public async Task<(TokenPairIssue? Pair, string? Failure)> RefreshAsync(string refreshToken, CancellationToken ct)
    {
        var (presented, failure) = await tokens.CheckAsync(refreshToken, TokenTypes.Refresh, ct);
        if (presented is null)
        {
            return (null, failure);
        }

        if (presented.SessionId is not { } sessionId)
        {
            return (null, TokenFailureReasons.Invalid);
        }

        var now = time.GetUtcNow();
        var user = await db.Users.AsNoTracking().Where(u => u.Id == presented.UserId).FirstOrDefaultAsync(ct);
        if (user is null || user.DisabledAt is not null)
        {
            return (null, TokenFailureReasons.Revoked);
        }

        var session = await db.Sessions.AsNoTracking().Where(s => s.Id == sessionId && s.UserId == user.Id).FirstOrDefaultAsync(ct);
        if (session is null)
        {
            return (null, TokenFailureReasons.Invalid);
        }

        var (access, refresh) = await MintAsync(user.Id, user.Email, session.Id, session.ExpiresAt, now, ct);
        var presentedId = presented.TokenId;
        var won = await db.Sessions
            .Where(s => s.Id == sessionId && s.CurrentTokenId == presentedId && s.RevokedAt == null && s.ExpiresAt > now)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.CurrentTokenId, refresh.TokenId), ct);
        if (won == 1)
        {
            return (new TokenPairIssue(access, refresh, sessionId), null);
        }

        // Lost: find out why, reading the row as it is now.
        var current = await db.Sessions.AsNoTracking().Where(s => s.Id == sessionId).FirstAsync(ct);
        if (current.RevokedAt is not null)
        {
            return (null, TokenFailureReasons.Revoked);
        }

        if (current.ExpiresAt <= now)
        {
            return (null, TokenFailureReasons.Expired);
        }

        LogReuseDetected(logger, user.Id, sessionId);
        await RevokeAsync(sessionId, ct);
        return (null, TokenFailureReasons.Reused);
    }

    /// <summary>Ends a session: its refresh token stops rotating and its access tokens are refused.</summary>
    public async Task RevokeAsync(string sessionId, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        await db.Sessions.Where(s => s.Id == sessionId && s.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.RevokedAt, now), ct);
        var expiresAt = await db.Sessions.AsNoTracking().Where(s => s.Id == sessionId).Select(s => s.ExpiresAt).FirstOrDefaultAsync(ct);
        // Access tokens outlive a refresh by at most their own lifetime.
        await revocations.RevokeSessionAsync(sessionId, expiresAt + TimeSpan.FromMinutes(_options.AccessTokenMinutes), ct);
    }

    /// <summary>Ends every session of a user (account disabled).</summary>
    public async Task<int> RevokeAllAsync(string userId, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var ids = await db.Sessions.AsNoTracking().Where(s => s.UserId == userId && s.RevokedAt == null && s.ExpiresAt > now)
            .Select(s => s.Id).ToListAsync(ct);
        foreach (var id in ids)
        {
            await RevokeAsync(id, ct);
        }

        return ids.Count;
    }

    private async Task<(IssuedToken Access, IssuedToken Refresh)> MintAsync(
        string userId, string email, string sessionId, DateTimeOffset sessionEnd, DateTimeOffset now, CancellationToken ct)
    {
        var accessEnd = Min(now + TimeSpan.FromMinutes(_options.AccessTokenMinutes), sessionEnd);
        var refreshEnd = Min(now + TimeSpan.FromDays(_options.RefreshTokenDays), sessionEnd);
        var access = await tokens.CreateAsync(TokenTypes.Access, userId, email, sessionId, accessEnd, ct);
        var refresh = await tokens.CreateAsync(TokenTypes.Refresh, userId, email, sessionId, refreshEnd, ct);
        return (access, refresh);
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    [LoggerMessage(EventId = 1141, Level = LogLevel.Information, Message = "Started session {SessionId} for user {UserId}")]
    private static partial void LogSessionStarted(ILogger logger, string userId, string sessionId);

    [LoggerMessage(EventId = 1142, Level = LogLevel.Warning, Message = "Refresh token reuse for user {UserId}: revoking session {SessionId}")]
    private static partial void LogReuseDetected(ILogger logger, string userId, string sessionId);
}
