using System.CommandLine;
using Apex.Hosting;

namespace Apex.Server.Commands;

internal static class MigrateCommand
{
    public static Command Create()
    {
        var command = new Command("migrate", "Apply pending database migrations of every module and exit.");
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (result, ct) =>
        {
            await using var app = ApexHost.Build([.. result.UnmatchedTokens]);
            foreach (var context in app.Services.GetServices<IMigratableContext>())
            {
                await context.MigrateAsync(app.Services, ct);
                Console.WriteLine($"migrated {context.Name}");
            }

            return 0;
        });
        return command;
    }
}
