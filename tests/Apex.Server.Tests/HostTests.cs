using System.Net;
using System.Text.Json;
using Apex.Testing;

namespace Apex.Server.Tests;

public sealed class HostTests
{
    [Fact(Timeout = 60_000)]
    public async Task Unknown_route_answers_404_problem_json()
    {
        await using var server = await ApexTestServer.StartAsync();
        using var response = await server.Client.GetAsync(new Uri("/api/no-such-route", UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(404, body.RootElement.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(body.RootElement.GetProperty("title").GetString()));
    }

    [Fact(Timeout = 60_000)]
    public async Task Sqlite_database_is_created_under_the_data_directory_at_start()
    {
        await using var server = await ApexTestServer.StartAsync();
        Assert.True(File.Exists(Path.Combine(server.DataDir, "apex.db")));
    }
}
