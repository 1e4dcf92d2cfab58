using System.CommandLine;
using Apex.Hosting;

namespace Apex.Server.Commands;

internal static class ServeCommand
{
    public static Command Create()
    {
        var role = new Option<ServerRole>("--role")
        {
            Description = "Which part of Apex this process serves: all, auth or api.",
            DefaultValueFactory = _ => ServerRole.All,
        };
        var urls = new Option<string?>("--urls") { Description = "Listening addresses, e.g. http://0.0.0.0:8080." };
        var command = new Command("serve", "Run the Apex server.") { role, urls };
        // Anything else on the line is configuration, e.g. --Auth:AccessTokenMinutes=5.
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (result, ct) =>
        {
            var args = new List<string>(result.UnmatchedTokens);
            if (result.GetResult(role) is { Implicit: false })
            {
                args.Add($"--{ApexOptions.Section}:{nameof(ApexOptions.Role)}={result.GetValue(role)}");
            }

            if (result.GetValue(urls) is { Length: > 0 } u)
            {
                args.Add($"--urls={u}");
            }

            var app = ApexHost.Build([.. args]);
            await ApexHost.PrepareAsync(app, ct);
            await app.RunAsync();
            return 0;
        });
        return command;
    }
}
