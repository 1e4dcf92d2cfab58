using System.Text;
using System.Threading.RateLimiting;
using Apex.Auth.Abuse;
using Apex.Auth.Data;
using Apex.Auth.Http;
using Apex.Auth.Keys;
using Apex.Auth.Passwords;
using Apex.Auth.Revocation;
using Apex.Auth.Tokens;
using Apex.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Apex.Auth;

public static class AuthModule
{
    /// <summary>The default authentication scheme: Bearer access tokens of docs/spec/auth-api.md section 2.</summary>
    public const string SchemeName = "Apex";

    /// <summary>Registers the auth services: options, storage, tokens, authentication scheme.</summary>
    public static WebApplicationBuilder AddApexAuth(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var role = ServerRoles.Read(builder.Configuration);

        services.AddOptions<AuthOptions>()
            .BindConfiguration(AuthOptions.Section)
            .ValidateDataAnnotations()
            .Validate(o => o.SigningAlgorithm is "ES256" or "HS256", "Auth:SigningAlgorithm must be ES256 or HS256.")
            .Validate(o => !TokenService.IsSharedSecretMode(o) || Encoding.UTF8.GetByteCount(o.SharedSecret ?? "") >= KeyMaterial.MinSharedSecretBytes,
                $"Auth:SharedSecret must be at least {KeyMaterial.MinSharedSecretBytes} bytes when Auth:SigningAlgorithm is HS256.")
            .Validate(o => string.IsNullOrWhiteSpace(o.SigningKeyPem) || !string.IsNullOrWhiteSpace(o.SigningKeyId),
                "Auth:SigningKeyId is required when Auth:SigningKeyPem is set.")
            .Validate(o => string.IsNullOrWhiteSpace(o.SigningKeyPem) || IsP256Pem(o.SigningKeyPem),
                "Auth:SigningKeyPem must be an EC P-256 private key in PEM form.")
            .Validate(o => role != ServerRole.Api || TokenService.IsSharedSecretMode(o) || IsHttpUrl(o.JwksUrl),
                "Auth:JwksUrl must be the absolute http(s) URL of the auth node's JWKS when Apex:Role is Api.")
            .Validate(_ => Users.UserRules.NormalizationAvailable(),
                "Unicode normalisation is unavailable (globalization invariant mode or no ICU): install libicu and unset DOTNET_SYSTEM_GLOBALIZATION_INVARIANT, or emails could no longer be compared.")
            .ValidateOnStart();

        services.TryAddSingleton(TimeProvider.System);
        services.AddApexDbContext<AuthDbContext>(AuthDbContext.QuietFailedSaves);
        services.AddHttpClient(JwksKeySource.HttpClientName, c => c.Timeout = TimeSpan.FromSeconds(10));
        services.AddSingleton<FileKeyStore>();
        services.AddSingleton<JwksKeySource>();
        services.AddSingleton<ISigningKeySource>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<AuthOptions>>().Value;
            if (TokenService.IsSharedSecretMode(options))
            {
                return new StaticKeySource(KeyMaterial.SetOf([KeyMaterial.FromSharedSecret(options.SharedSecret!)]));
            }

            if (role == ServerRole.Api)
            {
                return sp.GetRequiredService<JwksKeySource>();
            }

            if (!string.IsNullOrWhiteSpace(options.SigningKeyPem))
            {
                return new StaticKeySource(KeyMaterial.SetOf([KeyMaterial.FromPem(options.SigningKeyId!, options.SigningKeyPem, DateTimeOffset.MinValue)]));
            }

            return sp.GetRequiredService<FileKeyStore>();
        });
        services.AddSingleton<TokenService>();
        services.AddSingleton<IAccessTokenValidator, AccessTokenValidator>();
        services.AddSingleton<IRevocationStore, DatabaseRevocationStore>();
        services.AddSingleton<IRevocationFeed>(sp => sp.GetRequiredService<IRevocationStore>());
        services.AddHostedService<RevocationSyncService>();
        services.AddHostedService<AuthWarmup>();
        services.AddSingleton<PasswordService>();
        services.AddSingleton<LoginThrottle>();
        services.AddScoped<SessionService>();
        services.AddScoped<Users.UserAdmin>();
        Oidc.OidcEndpoints.AddApexOidc(services);

        services.AddAuthentication(SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApexAuthenticationHandler>(SchemeName, displayName: null, configureOptions: null);
        services.AddAuthorization();
        services.AddRateLimiter(o => o.AddPolicy(AuthEndpoints.CredentialsRateLimitPolicy, context =>
        {
            var perMinute = context.RequestServices.GetRequiredService<IOptions<AuthOptions>>().Value.Abuse.PerIpPerMinute;
            var ip = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
            return RateLimitPartition.GetFixedWindowLimiter(ip, _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = perMinute,
                Window = TimeSpan.FromMinutes(1),
                QueueLimit = 0,
            });
        }));
        return builder;
    }

    /// <summary>Maps the routes of docs/spec/auth-api.md.</summary>
    public static IEndpointRouteBuilder MapApexAuth(this IEndpointRouteBuilder endpoints)
    {
        AuthEndpoints.Map(endpoints);
        return endpoints;
    }

    private static bool IsHttpUrl(string? url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    private static bool IsP256Pem(string pem)
    {
        try
        {
            using var ecdsa = System.Security.Cryptography.ECDsa.Create();
            ecdsa.ImportFromPem(pem);
            return ecdsa.KeySize == 256;
        }
        catch (Exception ex) when (ex is ArgumentException or System.Security.Cryptography.CryptographicException)
        {
            return false;
        }
    }
}

/// <summary>Creates the first signing key and loads revocations before the first request.</summary>
internal sealed class AuthWarmup(ISigningKeySource keys, IRevocationStore revocations, IServiceScopeFactory scopes, IOptions<ApexOptions> apex) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (keys is FileKeyStore store)
        {
            await store.EnsureKeyAsync(cancellationToken);
        }

        await revocations.EnsureLoadedAsync(cancellationToken);
        if (apex.Value.Role != ServerRole.Api)
        {
            // Accounts stored before emails were NFKC-normalised: one pass, cheap when nothing changes.
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<Users.UserAdmin>().RenormalizeEmailsAsync(cancellationToken);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
