using System.Collections.Concurrent;
using System.Net.Http.Json;
using Apex.Testing;
using Microsoft.Extensions.Logging;

namespace Apex.Auth.Tests;

public sealed class LoggingTests
{
    private sealed class CapturingProvider : ILoggerProvider
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Capturing(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Capturing(CapturingProvider owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var structured = state is IEnumerable<KeyValuePair<string, object?>> pairs
                    ? string.Join(";", pairs.Select(p => $"{p.Key}={p.Value}"))
                    : "";
                owner.Lines.Enqueue($"{category}|{formatter(state, exception)}|{structured}|{exception}");
            }
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task No_password_or_token_reaches_the_logs()
    {
        var provider = new CapturingProvider();
        await using var server = await ApexTestServer.StartAsync(configure: builder =>
        {
            builder.Logging.SetMinimumLevel(LogLevel.Trace);
            builder.Logging.AddProvider(provider);
        });
        var user = await server.RegisterUserAsync(password: "logged nowhere passphrase 1");
        using (await server.PostAsync("/auth/login", new { email = user.Email, password = "wrong secret passphrase 2" }))
        {
        }

        var again = await server.LoginAsync(user.Email, user.Password);
        using (var refresh = await server.PostAsync("/auth/refresh", new { refresh_token = again.RefreshToken }))
        {
            refresh.EnsureSuccessStatusCode();
        }

        using (await server.PostAsync("/auth/refresh", new { refresh_token = again.RefreshToken }))
        {
        }

        var (_, _) = await server.ValidateAsync(user.AccessToken);
        using (await server.GetMeAsync(user.AccessToken + "x"))
        {
        }

        using (var client = server.CreateClient(user.AccessToken))
        using (await client.PostAsJsonAsync("/auth/logout", new { refresh_token = user.RefreshToken }))
        {
        }

        var (_, _) = await server.ValidateAsync(user.AccessToken);

        var log = string.Join("\n", provider.Lines);
        Assert.NotEmpty(provider.Lines);
        Assert.Contains(user.Id, log, StringComparison.Ordinal);
        foreach (var secret in new[] { user.Password, "wrong secret passphrase 2", user.AccessToken, user.RefreshToken, again.AccessToken, again.RefreshToken })
        {
            Assert.DoesNotContain(secret, log, StringComparison.Ordinal);
            // Not even the signature part of a token.
            Assert.DoesNotContain(secret.Split('.')[^1], log, StringComparison.Ordinal);
        }
    }
}
