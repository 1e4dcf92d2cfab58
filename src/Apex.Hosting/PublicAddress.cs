using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Apex.Hosting;

/// <summary>
/// The deployment's public base URL for documents that tell clients where to go (OpenID discovery,
/// the public config). It comes from configuration only: <c>Apex:PublicUrl</c>; else, when
/// <c>AllowedHosts</c> is an explicit list (host filtering then refuses every other Host), the
/// request's host, which is one of the listed ones; else the first listening address. A bare Host
/// header never decides it: anyone can send <c>Host: evil.example</c>.
/// </summary>
public static class PublicAddress
{
    public const string AllowedHostsKey = "AllowedHosts";

    public static string BaseUrl(HttpContext context, ApexOptions apex)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(apex);
        if (!string.IsNullOrWhiteSpace(apex.PublicUrl))
        {
            return apex.PublicUrl.TrimEnd('/');
        }

        var configuration = context.RequestServices.GetRequiredService<IConfiguration>();
        var allowed = ExplicitAllowedHosts(configuration);
        var host = context.Request.Host.Host;
        if (allowed.Length > 0 && host.Length > 0 && allowed.Any(a => HostMatches(a, host)))
        {
            return $"{context.Request.Scheme}://{context.Request.Host}";
        }

        var address = context.RequestServices.GetService<IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        if (address is not null && Uri.TryCreate(WildcardToLocalhost(address), UriKind.Absolute, out var listening))
        {
            return listening.GetLeftPart(UriPartial.Authority);
        }

        return "http://localhost";
    }

    /// <summary>The <c>AllowedHosts</c> entries when they are a real list (not empty, not <c>*</c>).</summary>
    public static string[] ExplicitAllowedHosts(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var hosts = (configuration[AllowedHostsKey] ?? string.Empty)
            .Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return hosts.Length == 0 || hosts.Contains("*", StringComparer.Ordinal) ? [] : hosts;
    }

    public static bool IsAbsoluteHttpUrl(string? url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    private static bool HostMatches(string allowed, string host) =>
        allowed.StartsWith("*.", StringComparison.Ordinal)
            ? host.EndsWith(allowed[1..], StringComparison.OrdinalIgnoreCase)
            : string.Equals(allowed.Trim('[', ']'), host.Trim('[', ']'), StringComparison.OrdinalIgnoreCase);

    private static string WildcardToLocalhost(string address) => address
        .Replace("://+:", "://localhost:", StringComparison.Ordinal)
        .Replace("://*:", "://localhost:", StringComparison.Ordinal)
        .Replace("://0.0.0.0:", "://localhost:", StringComparison.Ordinal)
        .Replace("://[::]:", "://localhost:", StringComparison.Ordinal);
}
