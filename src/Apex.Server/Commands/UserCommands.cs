using System.CommandLine;
using System.Globalization;
using Apex.Auth.Users;
using Spectre.Console;

namespace Apex.Server.Commands;

/// <summary><c>apex user add|list|disable</c>: account administration through the server's own code.</summary>
internal static class UserCommands
{
    public static Command Create()
    {
        var command = new Command("user", "Manage user accounts.");
        command.Subcommands.Add(Add());
        command.Subcommands.Add(List());
        command.Subcommands.Add(Disable());
        return command;
    }

    private static Command Add()
    {
        var email = new Option<string>("--email") { Description = "The account's email address.", Required = true };
        var name = new Option<string?>("--name") { Description = "Display name." };
        var command = new Command("add", "Create a password account. The password is read from standard input (or asked for), never from the command line.")
        {
            email,
            name,
        };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (result, ct) =>
        {
            var password = ReadPassword();
            if (password is null)
            {
                Console.Error.WriteLine("error: no password given on standard input.");
                return 2;
            }

            await using var app = ApexHost.Build([.. result.UnmatchedTokens]);
            await ApexHost.PrepareAsync(app, ct);
            await using var scope = app.Services.CreateAsyncScope();
            var admin = scope.ServiceProvider.GetRequiredService<UserAdmin>();
            var (outcome, message) = await admin.AddAsync(result.GetValue(email)!, password, result.GetValue(name), ct);
            if (outcome != AddUserOutcome.Added)
            {
                Console.Error.WriteLine($"error: {message}");
                return outcome == AddUserOutcome.EmailTaken ? 3 : 2;
            }

            Console.WriteLine(message);
            return 0;
        });
        return command;
    }

    private static Command List()
    {
        var limit = new Option<int>("--limit") { Description = "How many accounts to list.", DefaultValueFactory = _ => 100 };
        var command = new Command("list", "List accounts, oldest first.") { limit };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (result, ct) =>
        {
            await using var app = ApexHost.Build([.. result.UnmatchedTokens]);
            await ApexHost.PrepareAsync(app, ct);
            await using var scope = app.Services.CreateAsyncScope();
            var users = await scope.ServiceProvider.GetRequiredService<UserAdmin>().ListAsync(Math.Clamp(result.GetValue(limit), 1, 100_000), ct);
            string[] Row(UserSummary user) =>
            [
                user.Id,
                user.Email,
                user.Name ?? "",
                user.CreatedAt.ToString("u", CultureInfo.InvariantCulture),
                user.DisabledAt is null ? "active" : "disabled",
                user.HasPassword ? "yes" : "no",
            ];
            string[] header = ["id", "email", "name", "created", "status", "password"];
            if (Console.IsOutputRedirected)
            {
                // Scripts get one tab-separated line per account instead of a wrapped table.
                Console.WriteLine(string.Join('\t', header));
                foreach (var user in users)
                {
                    Console.WriteLine(string.Join('\t', Row(user).Select(v => v.Replace('\t', ' ').Replace('\n', ' '))));
                }

                return 0;
            }

            var table = new Table().AddColumns(header);
            foreach (var user in users)
            {
                table.AddRow([.. Row(user).Select(Markup.Escape)]);
            }

            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }

    private static Command Disable()
    {
        var account = new Argument<string>("account") { Description = "Email or user id." };
        var command = new Command("disable", "Disable an account and end its sessions (its tokens stop working).") { account };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (result, ct) =>
        {
            await using var app = ApexHost.Build([.. result.UnmatchedTokens]);
            await ApexHost.PrepareAsync(app, ct);
            await using var scope = app.Services.CreateAsyncScope();
            var disabled = await scope.ServiceProvider.GetRequiredService<UserAdmin>().DisableAsync(result.GetValue(account)!, ct);
            if (disabled is not { } d)
            {
                Console.Error.WriteLine("error: no such account.");
                return 3;
            }

            Console.WriteLine($"disabled {d.UserId}; ended {d.SessionsEnded} sessions");
            return 0;
        });
        return command;
    }

    private static string? ReadPassword()
    {
        if (Console.IsInputRedirected)
        {
            var line = Console.In.ReadLine();
            return string.IsNullOrEmpty(line) ? null : line;
        }

        var first = AnsiConsole.Prompt(new TextPrompt<string>("Password:").Secret());
        var second = AnsiConsole.Prompt(new TextPrompt<string>("Repeat password:").Secret());
        return first == second ? first : null;
    }
}
