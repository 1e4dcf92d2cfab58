using System.Data.Common;
using Apex.Auth.Data;
using Apex.Auth.Revocation;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Apex.Auth.Tokens;

internal sealed record TokenPairIssue(IssuedToken Access, IssuedToken Refresh, string SessionId);

/// <summary>
/// Login sessions: each is a family of refresh tokens of which exactly one is current. Rotation is
/// one conditional <c>UPDATE … RETURNING</c> on the session row, so of any number of concurrent uses of one refresh
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
    // One statement decides a rotation and returns what the new pair needs: the session must be this
    // user's, hold the presented token as current, be neither revoked nor expired, and the account must
    // exist and be enabled. Of concurrent uses of one token exactly one matches. Table and column
    // names are those of the migrations (the same on SQLite and PostgreSQL); times are Unix ms.
    private const string RotateSql = """
        UPDATE "auth_sessions" SET "CurrentTokenId" = @next
        WHERE "Id" = @session AND "UserId" = @user AND "CurrentTokenId" = @presented
          AND "RevokedAt" IS NULL AND "ExpiresAt" > @now
          AND EXISTS (SELECT 1 FROM "auth_users" AS u WHERE u."Id" = @user AND u."DisabledAt" IS NULL)
        RETURNING "ExpiresAt", (SELECT u."Email" FROM "auth_users" AS u WHERE u."Id" = @user)
        """;

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

        // The new refresh token's id goes into the session row before the token is signed, so the key
        // is fetched first: a node that cannot sign fails here, before it changes anything.
        var now = time.GetUtcNow();
        var key = await tokens.SigningKeyAsync(now, ct);
        var nextId = TokenService.NewTokenId();
        var userId = presented.UserId;
        var presentedId = presented.TokenId;
        var nowMs = now.ToUnixTimeMilliseconds();

        var won = await RotateAsync(sessionId, userId, presentedId, nextId, nowMs, ct);
        if (won is { } rotated)
        {
            var sessionEnd = DateTimeOffset.FromUnixTimeMilliseconds(rotated.ExpiresAt);
            var accessEnd = Min(now + TimeSpan.FromMinutes(_options.AccessTokenMinutes), sessionEnd);
            var refreshEnd = Min(now + TimeSpan.FromDays(_options.RefreshTokenDays), sessionEnd);
            var access = tokens.Create(key, TokenTypes.Access, userId, rotated.Email, sessionId, TokenService.NewTokenId(), now, accessEnd);
            var refresh = tokens.Create(key, TokenTypes.Refresh, userId, rotated.Email, sessionId, nextId, now, refreshEnd);
            return (new TokenPairIssue(access, refresh, sessionId), null);
        }

        // Lost: find out why, reading the rows as they are now.
        var user = await db.Users.AsNoTracking().Where(u => u.Id == userId).FirstOrDefaultAsync(ct);
        if (user is null || user.DisabledAt is not null)
        {
            return (null, TokenFailureReasons.Revoked);
        }

        var current = await db.Sessions.AsNoTracking().Where(s => s.Id == sessionId && s.UserId == userId).FirstOrDefaultAsync(ct);
        if (current is null)
        {
            return (null, TokenFailureReasons.Invalid);
        }

        if (current.RevokedAt is not null)
        {
            return (null, TokenFailureReasons.Revoked);
        }

        if (current.ExpiresAt <= now)
        {
            return (null, TokenFailureReasons.Expired);
        }

        LogReuseDetected(logger, userId, sessionId);
        await RevokeAsync(sessionId, ct);
        return (null, TokenFailureReasons.Reused);
    }

    // The statement runs as plain ADO.NET on the context's connection: EF Core's query pipeline costs
    // several times the statement itself on a fresh context, and a rotation runs nothing else.
    // Named @parameters work on both providers (Npgsql rewrites them to positional ones).
    private async Task<(long ExpiresAt, string Email)?> RotateAsync(
        string sessionId, string userId, string presentedId, string nextId, long nowMs, CancellationToken ct)
    {
        await db.Database.OpenConnectionAsync(ct);
        try
        {
            await using var command = db.Database.GetDbConnection().CreateCommand();
            command.CommandText = RotateSql;
            command.CommandTimeout = db.Database.GetCommandTimeout() ?? command.CommandTimeout;
            Add(command, "@next", nextId);
            Add(command, "@session", sessionId);
            Add(command, "@user", userId);
            Add(command, "@presented", presentedId);
            Add(command, "@now", nowMs);
            await using var reader = await command.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct))
            {
                return null;
            }

            var result = (reader.GetInt64(0), reader.GetString(1));
            // Read to the end: SQLite commits the implicit transaction when the statement finishes.
            while (await reader.ReadAsync(ct))
            {
            }

            return result;
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    private static void Add(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
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
