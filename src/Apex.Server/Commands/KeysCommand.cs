using System.CommandLine;
using System.Globalization;
using Apex.Auth.Keys;

namespace Apex.Server.Commands;

/// <summary><c>apex keys rotate</c>: adds a signing key to the key store the running server reads.</summary>
internal static class KeysCommand
{
    public static Command Create()
    {
        var command = new Command("keys", "Manage token signing keys.");
        var rotate = new Command("rotate",
            "Create a new ES256 signing key. It is published at once, signs after Auth:KeyActivationDelaySeconds, "
            + "and the previous key stays published until every token it signed has expired.");
        rotate.TreatUnmatchedTokensAsErrors = false;
        rotate.SetAction(async (result, ct) =>
        {
            await using var app = ApexHost.Build([.. result.UnmatchedTokens]);
            if (app.Services.GetRequiredService<ISigningKeySource>() is not FileKeyStore store)
            {
                Console.Error.WriteLine(
                    "error: this deployment does not sign with the generated key store (Auth:SigningKeyPem, Auth:SigningAlgorithm=HS256 "
                    + "or Apex:Role=Api); rotate the configured key instead.");
                return 2;
            }

            var rotation = await store.RotateAsync(ct);
            Console.WriteLine($"new key {rotation.KeyId} signs from {rotation.ActivatesAt.ToString("u", CultureInfo.InvariantCulture)}");
            foreach (var removed in rotation.RemovedKeyIds)
            {
                Console.WriteLine($"removed expired key {removed}");
            }

            return 0;
        });
        command.Subcommands.Add(rotate);
        return command;
    }
}
