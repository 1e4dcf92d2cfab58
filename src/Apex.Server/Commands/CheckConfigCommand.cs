using System.CommandLine;
using Microsoft.Extensions.Options;

namespace Apex.Server.Commands;

internal static class CheckConfigCommand
{
    public static Command Create()
    {
        var command = new Command("check-config", "Validate the configuration and name any key that is wrong.");
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (result, ct) =>
        {
            try
            {
                await using var app = ApexHost.Build([.. result.UnmatchedTokens]);
                // Resolving the validators runs every ValidateOnStart check without listening.
                var validator = app.Services.GetRequiredService<IStartupValidator>();
                validator.Validate();
            }
            catch (OptionsValidationException ex)
            {
                foreach (var failure in ex.Failures)
                {
                    Console.Error.WriteLine($"invalid: {failure}");
                }

                return 1;
            }
            catch (Exception ex) when (ex is InvalidOperationException or FormatException or ArgumentException)
            {
                Console.Error.WriteLine($"invalid: {ex.Message}");
                return 1;
            }

            Console.WriteLine("configuration ok");
            return 0;
        });
        return command;
    }
}
