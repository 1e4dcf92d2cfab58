using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Apex.Agents;

public static class AgentsModule
{
    /// <summary>Registers the optimisation agent, its tools, the price catalog and the model provider.</summary>
    public static IServiceCollection AddApexAgents(this IServiceCollection services, IConfiguration configuration)
    {
        _ = configuration;
        return services;
    }
}
