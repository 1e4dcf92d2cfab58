using Apex.Auth.Revocation;
using Apex.Chat.Runs;
using Apex.Hosting;
using Apex.Realtime.Broker;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Apex.Redis;

public static class RedisModule
{
    /// <summary>
    /// Scale-out through Redis, switched on by <c>Redis:Configuration</c>: the Redis event broker
    /// (when <c>Broker:Provider</c> is <c>redis</c>), revocation broadcast, cross-node run stop and
    /// run leases. Call after the other modules: it replaces some of their single-node services.
    /// </summary>
    public static WebApplicationBuilder AddApexRedis(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        var configuration = builder.Configuration;
        var brokerIsRedis = string.Equals(configuration[$"{BrokerOptions.Section}:Provider"], BrokerOptions.RedisProvider, StringComparison.OrdinalIgnoreCase);
        services.AddOptions<RedisOptions>().BindConfiguration(RedisOptions.Section).ValidateDataAnnotations()
            .Validate(o => !brokerIsRedis || !string.IsNullOrWhiteSpace(o.Configuration),
                "Redis:Configuration is required when Broker:Provider is redis.")
            .ValidateOnStart();
        if (string.IsNullOrWhiteSpace(configuration[$"{RedisOptions.Section}:{nameof(RedisOptions.Configuration)}"]))
        {
            return builder;
        }

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<RedisConnection>();

        services.AddSingleton<DatabaseRevocationStore>();
        services.AddSingleton<RedisRevocationStore>();
        services.Replace(ServiceDescriptor.Singleton<IRevocationStore>(sp => sp.GetRequiredService<RedisRevocationStore>()));
        services.AddHostedService(sp => sp.GetRequiredService<RedisRevocationStore>());

        if (ServerRoles.Read(configuration) == ServerRole.Auth)
        {
            return builder;
        }

        services.AddSingleton<RedisEventBroker>();
        services.AddKeyedSingleton<IEventBroker>(BrokerOptions.RedisProvider, (sp, _) => sp.GetRequiredService<RedisEventBroker>());
        if (!brokerIsRedis)
        {
            // The event bus check covers Redis when it carries the streams; otherwise readiness still
            // needs Redis for stops, leases and revocations.
            services.AddHealthChecks().AddCheck<RedisHealthCheck>("redis");
        }

        services.AddSingleton<RedisRunCluster>();
        services.Replace(ServiceDescriptor.Singleton<IRunCluster>(sp => sp.GetRequiredService<RedisRunCluster>()));
        services.AddHostedService(sp => sp.GetRequiredService<RedisRunCluster>());
        return builder;
    }
}

internal sealed class RedisHealthCheck(RedisEventBroker broker) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        broker.CheckHealthAsync(context, cancellationToken);
}
