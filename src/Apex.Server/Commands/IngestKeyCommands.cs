using System.CommandLine;
using System.Globalization;
using Apex.Auth.Users;
using Apex.Chat.Live;
using Spectre.Console;

namespace Apex.Server.Commands;

/// <summary>
/// <c>apex ingest-key add|list|revoke</c>: the keys OTLP exporters send usage with, managed through the
/// server's own code (<c>apex keys</c> is about token signing keys).
/// </summary>
internal static class IngestKeyCommands
{
    public static Command Create()
    {
        var command = new Command("ingest-key", "Manage ingest keys (OTLP exports to /v1/traces feed the key's live dataset).");
        command.Subcommands.Add(Add());
        command.Subcommands.Add(List());
        command.Subcommands.Add(Revoke());
        return command;
    }

    private static Command Add()
    {
        var email = new Option<string>("--email") { Description = "The owner's email address (or user id).", Required = true };
        var name = new Option<string>("--name") { Description = "The key's name, e.g. prod-app (1-100 characters); also its live dataset's name.", Required = true };
        var command = new Command("add", "Create an ingest key and its live dataset. The key is printed once; only its hash is stored.") { email, name };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (result, ct) =>
        {
            var keyName = result.GetValue(name)!.Trim();
            if (keyName.Length is 0 or > 100)
            {
                Console.Error.WriteLine("error: --name must be 1 to 100 characters.");
                return 2;
            }

            await using var app = ApexHost.Build([.. result.UnmatchedTokens]);
            await ApexHost.PrepareAsync(app, ct);
            var userId = await FindUserAsync(app, result.GetValue(email)!, ct);
            if (userId is null)
            {
                Console.Error.WriteLine("error: no such account.");
                return 3;
            }

            var created = await app.Services.GetRequiredService<IngestKeyStore>().CreateAsync(userId, keyName, ct);
            Console.Error.WriteLine($"created ingest key {created.Id} ({created.Name}) feeding live dataset {created.DatasetId}; the key is shown only now:");
            Console.WriteLine(created.Key);
            return 0;
        });
        return command;
    }

    private static Command List()
    {
        var email = new Option<string>("--email") { Description = "The owner's email address (or user id).", Required = true };
        var command = new Command("list", "List an account's ingest keys, newest first (prefixes only, never the keys).") { email };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (result, ct) =>
        {
            await using var app = ApexHost.Build([.. result.UnmatchedTokens]);
            await ApexHost.PrepareAsync(app, ct);
            var userId = await FindUserAsync(app, result.GetValue(email)!, ct);
            if (userId is null)
            {
                Console.Error.WriteLine("error: no such account.");
                return 3;
            }

            var store = app.Services.GetRequiredService<IngestKeyStore>();
            var keys = new List<IngestKeyResponse>();
            string? cursor = null;
            do
            {
                var page = await store.ListAsync(userId, 200, cursor, ct);
                keys.AddRange(page.Items);
                cursor = page.NextCursor;
            }
            while (cursor is not null);

            static string When(DateTimeOffset? t) => t?.ToString("u", CultureInfo.InvariantCulture) ?? "";
            string[] Row(IngestKeyResponse k) =>
                [k.Id, k.Name, k.KeyPrefix + "…", k.DatasetId, When(k.CreatedAt), When(k.LastUsedAt), k.RevokedAt is null ? "active" : "revoked " + When(k.RevokedAt)];
            string[] header = ["id", "name", "key", "dataset", "created", "last used", "status"];
            if (Console.IsOutputRedirected)
            {
                Console.WriteLine(string.Join('\t', header));
                foreach (var k in keys)
                {
                    Console.WriteLine(string.Join('\t', Row(k).Select(v => v.Replace('\t', ' ').Replace('\n', ' '))));
                }

                return 0;
            }

            var table = new Table().AddColumns(header);
            foreach (var k in keys)
            {
                table.AddRow([.. Row(k).Select(Markup.Escape)]);
            }

            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }

    private static Command Revoke()
    {
        var id = new Argument<string>("id") { Description = "The key's id (ik_…), as listed." };
        var command = new Command("revoke", "Revoke an ingest key: its exports get 401 from now on; its live dataset and rows stay.") { id };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (result, ct) =>
        {
            await using var app = ApexHost.Build([.. result.UnmatchedTokens]);
            await ApexHost.PrepareAsync(app, ct);
            var keyId = result.GetValue(id)!.Trim();
            if (await app.Services.GetRequiredService<IngestKeyStore>().RevokeAnyAsync(keyId, ct) is null)
            {
                Console.Error.WriteLine("error: no such ingest key.");
                return 3;
            }

            Console.WriteLine($"revoked {keyId}");
            return 0;
        });
        return command;
    }

    private static async Task<string?> FindUserAsync(WebApplication app, string emailOrId, CancellationToken ct)
    {
        await using var scope = app.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<UserAdmin>().FindIdAsync(emailOrId, ct);
    }
}
