using Apex.Auth.Tokens;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Apex.Realtime.Gateway;

/// <summary>What every connection shares, gathered once so a connection holds one reference.</summary>
internal sealed class GatewayServices(
    IOptions<GatewayOptions> options,
    IServiceProvider services,
    IServiceScopeFactory scopeFactory,
    ILogger<GatewayConnection> logger)
{
    // Resolved on first use: the auth module registers the validator, and the container must
    // still build in compositions that never open a socket.
    private IAccessTokenValidator? _tokenValidator;

    public GatewayOptions Options { get; } = options.Value;
    public IAccessTokenValidator TokenValidator => _tokenValidator ??= services.GetRequiredService<IAccessTokenValidator>();
    public IServiceScopeFactory ScopeFactory { get; } = scopeFactory;
    public ILogger Logger { get; } = logger;
}
