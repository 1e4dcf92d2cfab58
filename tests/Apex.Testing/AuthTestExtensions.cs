using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace Apex.Testing;

/// <summary>A user registered through the real <c>/auth/register</c> route, with its first token pair.</summary>
public sealed record TestUser(string Id, string Email, string Password, string AccessToken, string RefreshToken);

/// <summary>Helpers for tests that need signed-in users: real registrations, real tokens.</summary>
public static class AuthTestExtensions
{
    public const string DefaultPassword = "correct horse battery staple 42";

    /// <summary>Registers a new user (a unique email unless given) and returns its id and tokens.</summary>
    public static async Task<TestUser> RegisterUserAsync(
        this ApexTestServer server, string? email = null, string? password = null, string? name = null, CancellationToken ct = default)
    {
        email ??= $"user-{Guid.NewGuid():N}@example.test";
        password ??= DefaultPassword;
        using var response = await server.Client.PostAsJsonAsync("/auth/register", new { email, password, name }, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        if ((int)response.StatusCode != 201)
        {
            throw new InvalidOperationException($"Registration failed with {(int)response.StatusCode}: {body}");
        }

        return ToUser(body, password);
    }

    /// <summary>Signs an existing user in through <c>/auth/login</c>.</summary>
    public static async Task<TestUser> LoginAsync(this ApexTestServer server, string email, string password, CancellationToken ct = default)
    {
        using var response = await server.Client.PostAsJsonAsync("/auth/login", new { email, password }, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"Login failed with {(int)response.StatusCode}: {body}");
        }

        return ToUser(body, password);
    }

    /// <summary>A client whose requests carry <c>Authorization: Bearer {accessToken}</c>.</summary>
    public static HttpClient CreateClient(this ApexTestServer server, string accessToken)
    {
        var client = server.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        return client;
    }

    /// <summary>A client signed in as <paramref name="user"/>.</summary>
    public static HttpClient CreateClient(this ApexTestServer server, TestUser user) => server.CreateClient(user.AccessToken);

    private static TestUser ToUser(string body, string password)
    {
        using var json = JsonDocument.Parse(body);
        var root = json.RootElement;
        var user = root.GetProperty("user");
        return new TestUser(
            user.GetProperty("id").GetString()!,
            user.GetProperty("email").GetString()!,
            password,
            root.GetProperty("access_token").GetString()!,
            root.GetProperty("refresh_token").GetString()!);
    }
}

/// <summary>Account administration as <c>apex user</c> does it, through the server's own services.</summary>
public static class UserAdminTestExtensions
{
    /// <summary>Disables an account exactly like <c>apex user disable</c>; returns the number of sessions ended.</summary>
    public static async Task<int> DisableUserAsync(this ApexTestServer server, string emailOrId, CancellationToken ct = default)
    {
        await using var scope = server.Services.CreateAsyncScope();
        var admin = scope.ServiceProvider.GetRequiredService<Apex.Auth.Users.UserAdmin>();
        var result = await admin.DisableAsync(emailOrId, ct) ?? throw new InvalidOperationException($"No account {emailOrId}.");
        return result.SessionsEnded;
    }
}
