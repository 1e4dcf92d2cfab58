using System.Net;
using Apex.Auth.Keys;
using Apex.Hosting;
using Apex.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using static Apex.Auth.Tests.Http;

namespace Apex.Auth.Tests;

public sealed class KeyRotationTests
{
    private static async Task<string[]> PublishedKidsAsync(ApexTestServer server)
    {
        using var response = await server.Client.GetAsync(U("/.well-known/jwks.json"));
        var body = await JsonAsync(response);
        return [.. body.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("kid").GetString()!)];
    }

    [Fact(Timeout = 60_000)]
    public async Task Tokens_signed_before_apex_keys_rotate_keep_validating()
    {
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?> { ["Auth:KeyActivationDelaySeconds"] = "0" });
        var before = await server.RegisterUserAsync();
        var oldKid = new JsonWebToken(before.AccessToken).Kid;

        var (exit, stdout, stderr) = await ApexCli.RunAsync(null, "keys", "rotate", $"--Apex:DataDir={server.DataDir}", "--Auth:KeyActivationDelaySeconds=0");
        Assert.True(exit == 0, stderr);
        Assert.Contains("new key", stdout, StringComparison.Ordinal);

        Assert.True(await EventuallyAsync(async () => (await PublishedKidsAsync(server)).Length == 2, TimeSpan.FromSeconds(5)),
            "the running server did not publish the rotated key");
        Assert.Contains(oldKid, await PublishedKidsAsync(server));

        // The old token still works everywhere it is checked, and its refresh token still rotates.
        using (var me = await server.GetMeAsync(before.AccessToken))
        {
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        }

        var (status, _) = await server.ValidateAsync(before.AccessToken);
        Assert.Equal(HttpStatusCode.OK, status);
        using (var refresh = await server.PostAsync("/auth/refresh", new { refresh_token = before.RefreshToken }))
        {
            Assert.Equal(HttpStatusCode.OK, refresh.StatusCode);
        }

        // New tokens are signed by the new key.
        var after = await server.LoginAsync(before.Email, before.Password);
        var newKid = new JsonWebToken(after.AccessToken).Kid;
        Assert.NotEqual(oldKid, newKid);
        Assert.Contains(newKid, await PublishedKidsAsync(server));
        using var meAfter = await server.GetMeAsync(after.AccessToken);
        Assert.Equal(HttpStatusCode.OK, meAfter.StatusCode);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_rotated_key_is_published_before_it_signs()
    {
        await using var server = await ApexTestServer.StartAsync();
        var before = await server.RegisterUserAsync();
        var oldKid = new JsonWebToken(before.AccessToken).Kid;
        var (exit, _, stderr) = await ApexCli.RunAsync(null, "keys", "rotate", $"--Apex:DataDir={server.DataDir}");
        Assert.True(exit == 0, stderr);
        Assert.True(await EventuallyAsync(async () => (await PublishedKidsAsync(server)).Length == 2, TimeSpan.FromSeconds(5)));
        // Default activation delay (5 min): the old key keeps signing meanwhile.
        var after = await server.LoginAsync(before.Email, before.Password);
        Assert.Equal(oldKid, new JsonWebToken(after.AccessToken).Kid);
    }

    [Fact(Timeout = 30_000)]
    public async Task Key_files_are_owner_only()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        await using var server = await ApexTestServer.StartAsync();
        var dir = Path.Combine(server.DataDir, "keys");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(dir));
        var files = Directory.GetFiles(dir);
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task A_superseded_key_is_published_until_its_tokens_expire_then_removed()
    {
        var dataDir = Directory.CreateTempSubdirectory("apex-keys-").FullName;
        try
        {
            var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
            var auth = new AuthOptions { KeyActivationDelaySeconds = 60 };
            using var store = new FileKeyStore(Options.Create(new ApexOptions { DataDir = dataDir }), Options.Create(auth), time, NullLogger<FileKeyStore>.Instance);
            await store.EnsureKeyAsync(CancellationToken.None);
            var first = (await store.GetAsync(CancellationToken.None)).Current(time.GetUtcNow())!.KeyId;

            var rotation = await store.RotateAsync(CancellationToken.None);
            var keys = await store.GetAsync(CancellationToken.None);
            Assert.Equal(2, keys.Published.Count);
            Assert.Equal(first, keys.Current(time.GetUtcNow())!.KeyId);

            time.Advance(TimeSpan.FromSeconds(61));
            keys = await store.RefreshAsync(CancellationToken.None);
            Assert.Equal(rotation.KeyId, keys.Current(time.GetUtcNow())!.KeyId);

            // Refresh tokens (14 days) signed by the first key may still be out there.
            time.Advance(TimeSpan.FromDays(14) - TimeSpan.FromMinutes(1));
            Assert.Contains(first, (await store.RefreshAsync(CancellationToken.None)).Published.Select(k => k.Kid));

            time.Advance(TimeSpan.FromMinutes(2));
            var second = await store.RotateAsync(CancellationToken.None);
            Assert.Contains(first, second.RemovedKeyIds);
            Assert.DoesNotContain(first, (await store.GetAsync(CancellationToken.None)).Published.Select(k => k.Kid));
            Assert.False(File.Exists(Path.Combine(dataDir, "keys", first + ".json")));
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }
}
