using Apex.Auth.Tokens;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Apex.Realtime.Gateway;

/// <summary>What every connection shares, gathered once so a connection holds one reference.</summary>
internal sealed class GatewayServices(
    IOptions<GatewayOptions> options,
    IAccessTokenValidator tokenValidator,
    IServiceScopeFactory scopeFactory,
    ILogger<GatewayConnection> logger)
{
    public GatewayOptions Options { get; } = options.Value;
    public IAccessTokenValidator TokenValidator { get; } = tokenValidator;
    public IServiceScopeFactory ScopeFactory { get; } = scopeFactory;
    public ILogger Logger { get; } = logger;
}
