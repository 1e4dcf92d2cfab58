using Apex.Agents.Catalog;
using Apex.Agents.Runtime;
using Apex.Agents.Tools;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Apex.Agents;

public static class AgentsModule
{
    /// <summary>Registers the optimisation agent, its tools, the price catalog and the model provider.</summary>
    public static IServiceCollection AddApexAgents(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AgentOptions>().Bind(configuration.GetSection(AgentOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<CatalogOptions>().Bind(configuration.GetSection(CatalogOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<CatalogOptions>, CatalogOptionsValidator>();
        services.AddSingleton(sp => PriceCatalog.Load(sp.GetRequiredService<IOptions<CatalogOptions>>().Value));
        services.AddSingleton<ToolSet>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<IAgentRuntime>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<AgentOptions>>();
            var tools = sp.GetRequiredService<ToolSet>();
            var provider = options.Value.Provider == AgentProvider.OpenAI ? new OpenAiModelProvider(options.Value, tools) : null;
            return new ApexAgentRuntime(
                sp.GetRequiredService<Data.IUsageDataSource>(),
                sp.GetRequiredService<PriceCatalog>(),
                options,
                tools,
                sp.GetRequiredService<ILogger<ApexAgentRuntime>>(),
                provider);
        });
        return services;
    }
}
