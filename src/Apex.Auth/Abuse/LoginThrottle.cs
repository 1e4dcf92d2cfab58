using System.Threading.RateLimiting;
using Apex.Auth.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Apex.Auth.Abuse;

/// <summary>
/// Per-account defences of <c>/auth/login</c>, keyed by normalised email whether or not an account
/// exists, so that throttled answers do not reveal which emails are registered: a short-term
/// attempt limit, and a lock-out that doubles with each failure past the threshold.
/// </summary>
internal sealed class LoginThrottle : IDisposable
{
    /// <summary>Failures older than this are forgotten; a later failure starts counting again.</summary>
    private static readonly TimeSpan FailureMemory = TimeSpan.FromDays(1);

    private readonly AbuseSettings _settings;
    private readonly TimeProvider _time;
    private readonly PartitionedRateLimiter<string> _attempts;

    public LoginThrottle(IOptions<AuthOptions> options, TimeProvider time)
    {
        _settings = options.Value.Abuse;
        _time = time;
        _attempts = PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetFixedWindowLimiter(key, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = _settings.PerAccountPerMinute,
            Window = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
        }));
    }

    /// <summary>Takes one attempt from the account's minute budget; null if allowed, else how long to wait.</summary>
    public TimeSpan? TryAttempt(string key)
    {
        using var lease = _attempts.AttemptAcquire(key);
        if (lease.IsAcquired)
        {
            return null;
        }

        return lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromMinutes(1);
    }

    /// <summary>How long the account stays locked, or null.</summary>
    public async Task<TimeSpan?> LockedForAsync(AuthDbContext db, string key, CancellationToken ct)
    {
        var until = await db.LoginThrottles.AsNoTracking().Where(t => t.Key == key).Select(t => t.LockedUntil).FirstOrDefaultAsync(ct);
        var now = _time.GetUtcNow();
        return until is { } u && u > now ? u - now : null;
    }

    /// <summary>Counts a failure; returns the lock-out it started, if any.</summary>
    public async Task<TimeSpan?> RecordFailureAsync(AuthDbContext db, string key, CancellationToken ct)
    {
        var now = _time.GetUtcNow();
        var nowMs = now.ToUnixTimeMilliseconds();
        var forgetBefore = (now - FailureMemory).ToUnixTimeMilliseconds();
        // One statement, so concurrent failures for the same key all count.
        await db.Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO auth_login_throttles ("Key", "Failures", "LockedUntil", "LastFailureAt") VALUES ({key}, 1, NULL, {nowMs})
            ON CONFLICT ("Key") DO UPDATE SET
              "Failures" = CASE WHEN auth_login_throttles."LastFailureAt" < {forgetBefore} THEN 1 ELSE auth_login_throttles."Failures" + 1 END,
              "LastFailureAt" = {nowMs}
            """, ct);
        var failures = await db.LoginThrottles.AsNoTracking().Where(t => t.Key == key).Select(t => t.Failures).FirstOrDefaultAsync(ct);
        if (failures < _settings.FailuresBeforeLockout)
        {
            return null;
        }

        var doublings = Math.Min(failures - _settings.FailuresBeforeLockout, 30);
        var seconds = Math.Min((double)_settings.LockoutSeconds * Math.Pow(2, doublings), _settings.LockoutMaxSeconds);
        var lockout = TimeSpan.FromSeconds(seconds);
        var until = now + lockout;
        await db.LoginThrottles.Where(t => t.Key == key).ExecuteUpdateAsync(s => s.SetProperty(t => t.LockedUntil, until), ct);
        return lockout;
    }

    public static Task ResetAsync(AuthDbContext db, string key, CancellationToken ct) =>
        db.LoginThrottles.Where(t => t.Key == key).ExecuteDeleteAsync(ct);

    public void Dispose() => _attempts.Dispose();
}
