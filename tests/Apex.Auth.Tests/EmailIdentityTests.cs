using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using Apex.Testing;
using Microsoft.Extensions.Logging;

namespace Apex.Auth.Tests;

/// <summary>One account per email, whatever Unicode form it is typed in; a lost registration race stays quiet (issue 14).</summary>
public sealed class EmailIdentityTests
{
    [Theory(Timeout = 60_000)]
    [InlineData("jos\u00e9.{0}@example.test", "jose\u0301.{0}@example.test")]
    [InlineData("jose\u0301.{0}@example.test", "jos\u00e9.{0}@example.test")]
    [InlineData("jose.{0}@example.test", "\uff4a\uff4f\uff53\uff45.{0}@example.test")]
    [InlineData("Jos\u00c9.{0}@Example.Test", "jos\u00e9.{0}@example.test")]
    public async Task Emails_differing_only_in_unicode_form_or_case_are_one_account_for_register_and_login(string first, string second)
    {
        var unique = Guid.NewGuid().ToString("N")[..8];
        var firstEmail = string.Format(System.Globalization.CultureInfo.InvariantCulture, first, unique);
        var secondEmail = string.Format(System.Globalization.CultureInfo.InvariantCulture, second, unique);
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync(firstEmail);

        using (var duplicate = await server.Client.PostAsJsonAsync("/auth/register", new { email = secondEmail, password = AuthTestExtensions.DefaultPassword }))
        {
            Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        }

        var signedIn = await server.LoginAsync(secondEmail, user.Password);
        Assert.Equal(user.Id, signedIn.Id);
        Assert.Equal(user.Email, signedIn.Email);
    }

    [Fact(Timeout = 60_000)]
    public async Task Concurrent_registrations_of_one_email_create_one_account_and_log_no_error()
    {
        var provider = new CapturingProvider();
        await using var server = await ApexTestServer.StartAsync(configure: builder => builder.Logging.AddProvider(provider));
        // Only what the registrations log counts: on a fresh PostgreSQL database the start-up migration
        // probes its history tables, and EF Core logs those expected misses at Error level.
        provider.Entries.Clear();
        var email = $"race-{Guid.NewGuid():N}@example.test";
        var attempts = Enumerable.Range(0, 8).Select(async _ =>
        {
            using var client = server.CreateClient();
            using var response = await client.PostAsJsonAsync("/auth/register", new { email, password = AuthTestExtensions.DefaultPassword });
            return response.StatusCode;
        });
        var statuses = await Task.WhenAll(attempts);

        Assert.Single(statuses, s => s == HttpStatusCode.Created);
        Assert.All(statuses.Where(s => s != HttpStatusCode.Created), s => Assert.Equal(HttpStatusCode.Conflict, s));
        var loud = provider.Entries.Where(e => e.Level >= LogLevel.Error || e.Exception is not null).ToList();
        Assert.True(loud.Count == 0, string.Join("\n", loud.Select(e => $"{e.Level} {e.Category}: {e.Message} {e.Exception?.GetType().Name}")));
    }

    private sealed record Entry(LogLevel Level, string Category, string Message, Exception? Exception);

    private sealed class CapturingProvider : ILoggerProvider
    {
        public ConcurrentQueue<Entry> Entries { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Capturing(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Capturing(CapturingProvider owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner.Entries.Enqueue(new Entry(logLevel, category, formatter(state, exception), exception));
        }
    }
}
