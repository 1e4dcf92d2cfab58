using Apex.Testing;

namespace Apex.Server.Tests;

public sealed class HostTests
{
    [Fact(Timeout = 60_000)]
    public async Task Server_starts_on_a_free_port_and_answers_http()
    {
        await using var server = await ApexTestServer.StartAsync();
        using var response = await server.Client.GetAsync(new Uri("/no-such-route", UriKind.Relative));
        Assert.NotNull(response);
    }
}
