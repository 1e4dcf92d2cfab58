using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Apex.Testing;

/// <summary>
/// The real clock plus an offset the test moves forward, installed as the server's
/// <see cref="TimeProvider"/>: token lifetimes and the gateway's expiry checks then pass in
/// seconds instead of minutes, with real tokens minted by the real auth code. Timers and timestamps
/// stay real, so the server's housekeeping keeps running; a test that needs time to stand still
/// (no server) uses <c>FakeTimeProvider</c> instead.
/// </summary>
public sealed class ShiftableTime : TimeProvider
{
    private long _offsetTicks;

    public void Shift(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);

    /// <summary>Sets the offset from the real clock (<see cref="TimeSpan.Zero"/> returns to it).</summary>
    public void ShiftTo(TimeSpan offset) => Interlocked.Exchange(ref _offsetTicks, offset.Ticks);

    public override DateTimeOffset GetUtcNow() => base.GetUtcNow().AddTicks(Interlocked.Read(ref _offsetTicks));

    public void Install(WebApplicationBuilder builder) => builder.Services.AddSingleton<TimeProvider>(this);
}
