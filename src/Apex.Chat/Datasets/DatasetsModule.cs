using Apex.Agents.Data;
using Apex.Chat.Live;
using Apex.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Apex.Chat.Datasets;

public static class DatasetsModule
{
    /// <summary>Registers dataset storage and parsing.</summary>
    public static WebApplicationBuilder AddApexDatasets(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<DatasetsOptions>().BindConfiguration(DatasetsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddApexDbContext<DatasetsDbContext>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<DatasetStore>();
        services.AddSingleton<IUsageDataSource>(sp => sp.GetRequiredService<DatasetStore>());
        // Live datasets are datasets fed by ingest keys: registered and mapped with the dataset routes.
        builder.AddApexLive();
        return builder;
    }

    /// <summary>Maps the dataset routes of docs/spec/rest-api.md.</summary>
    public static IEndpointRouteBuilder MapApexDatasets(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapDatasetRoutes();
        endpoints.MapApexLive();
        return endpoints;
    }
}
