using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Apex.Realtime.Tests;

/// <summary>
/// The real clock plus an offset the test moves forward, installed as the server's
/// <see cref="TimeProvider"/>: token lifetimes and the gateway's expiry checks then pass in
/// seconds instead of minutes, with real tokens minted by the real auth code.
/// </summary>
internal sealed class ShiftableTime : TimeProvider
{
    private long _offsetTicks;

    public void Shift(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);

    public override DateTimeOffset GetUtcNow() => base.GetUtcNow().AddTicks(Interlocked.Read(ref _offsetTicks));

    public void Install(WebApplicationBuilder builder) => builder.Services.AddSingleton<TimeProvider>(this);
}
