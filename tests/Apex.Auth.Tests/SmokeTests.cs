using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Apex.Testing;

namespace Apex.Auth.Tests;

public sealed class SmokeTests
{
    [Fact(Timeout = 60_000)]
    public async Task Register_me_validate_refresh()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        using var client = server.CreateClient(user.AccessToken);
        using var me = await client.GetAsync(new Uri("/auth/me", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        using var validate = await server.Client.PostAsJsonAsync("/auth/validate", new { token = user.AccessToken });
        Assert.Equal(HttpStatusCode.OK, validate.StatusCode);
        using var refresh = await server.Client.PostAsJsonAsync("/auth/refresh", new { refresh_token = user.RefreshToken });
        Assert.Equal(HttpStatusCode.OK, refresh.StatusCode);
        using var nf = await server.Client.GetAsync(new Uri("/nope", UriKind.Relative));
        Console.WriteLine(await nf.Content.ReadAsStringAsync());
        Console.WriteLine(string.Join(";", nf.Headers.Select(h => h.Key + "=" + string.Join(",", h.Value))));
        using var bad = await server.Client.PostAsync("/auth/login", new StringContent("{bad", System.Text.Encoding.UTF8, "application/json"));
        Console.WriteLine((int)bad.StatusCode + " " + await bad.Content.ReadAsStringAsync());
        using var big = await server.Client.PostAsync("/auth/login", new StringContent("{\"email\":\"" + new string('a', 100_000) + "\"}", System.Text.Encoding.UTF8, "application/json"));
        Console.WriteLine((int)big.StatusCode + " " + await big.Content.ReadAsStringAsync());
        using var unauth = await server.Client.GetAsync(new Uri("/auth/me", UriKind.Relative));
        Console.WriteLine((int)unauth.StatusCode + " " + await unauth.Content.ReadAsStringAsync());
        using var m405 = await server.Client.DeleteAsync(new Uri("/auth/me", UriKind.Relative));
        Console.WriteLine((int)m405.StatusCode + " " + await m405.Content.ReadAsStringAsync());
    }
}
