using System.Buffers.Binary;
using System.Net;
using Apex.Auth.Data;
using Apex.Auth.Passwords;
using Apex.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Apex.Auth.Tests;

public sealed class PasswordTests
{
    /// <summary>Identity v3 hash: 0x01, PRF (uint32 BE), iteration count (uint32 BE), salt length, salt, subkey.</summary>
    private static (uint Prf, uint Iterations) Parameters(string hash)
    {
        var bytes = Convert.FromBase64String(hash);
        Assert.Equal(0x01, bytes[0]);
        return (BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(1)), BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(5)));
    }

    private static async Task<string> StoredHashAsync(ApexTestServer server, string userId)
    {
        await using var scope = server.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AuthDbContext>();
        return (await db.Users.AsNoTracking().SingleAsync(u => u.Id == userId)).PasswordHash!;
    }

    [Fact(Timeout = 30_000)]
    public async Task Passwords_are_stored_as_pbkdf2_sha512_at_owasp_iterations_never_in_clear()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var hash = await StoredHashAsync(server, user.Id);
        Assert.DoesNotContain(user.Password, hash, StringComparison.Ordinal);
        var (prf, iterations) = Parameters(hash);
        Assert.Equal(2u, prf); // HMACSHA512
        Assert.Equal(210_000u, iterations);
    }

    [Fact(Timeout = 60_000)]
    public async Task Login_rehashes_a_password_stored_with_older_parameters()
    {
        await using var old = await ApexTestServer.StartAsync(new Dictionary<string, string?> { ["Auth:Password:Iterations"] = "10000" });
        var user = await old.RegisterUserAsync();
        Assert.Equal(10_000u, Parameters(await StoredHashAsync(old, user.Id)).Iterations);

        // The same database served with today's parameters.
        await using var current = await ApexTestServer.StartAsync(dataDir: old.DataDir);
        var again = await current.LoginAsync(user.Email, user.Password);
        Assert.Equal(user.Id, again.Id);
        var rehashed = await StoredHashAsync(current, user.Id);
        Assert.Equal(210_000u, Parameters(rehashed).Iterations);
        // And the new hash still verifies.
        var third = await current.LoginAsync(user.Email, user.Password);
        Assert.Equal(user.Id, third.Id);
    }

    [Fact]
    public void Common_list_is_embedded_and_large()
    {
        var service = new PasswordService(Options.Create(new AuthOptions()));
        Assert.NotNull(service.Weakness("password1234", null));
        Assert.NotNull(service.Weakness("Qwertyuiop123", null));
        Assert.NotNull(service.Weakness("Summer2024!", null));
        Assert.NotNull(service.Weakness("1234567890", null));
        Assert.NotNull(service.Weakness("sarah.jones", "sarah.jones@example.com"));
        Assert.Null(service.Weakness("plum teapot orbit 93", "sarah@example.com"));
        var lines = new StreamReader(typeof(PasswordService).Assembly.GetManifestResourceStream("Apex.Auth.common-passwords.txt")!).ReadToEnd()
            .Split('\n').Count(l => l.Length > 0 && l[0] != '#');
        Assert.True(lines > 5000, $"only {lines} common passwords");
    }
}
