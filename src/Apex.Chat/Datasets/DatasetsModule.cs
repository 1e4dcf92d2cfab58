using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;

namespace Apex.Chat.Datasets;

public static class DatasetsModule
{
    /// <summary>Registers dataset storage and parsing.</summary>
    public static WebApplicationBuilder AddApexDatasets(this WebApplicationBuilder builder)
    {
        return builder;
    }

    /// <summary>Maps the dataset routes of rest-api.md.</summary>
    public static IEndpointRouteBuilder MapApexDatasets(this IEndpointRouteBuilder endpoints)
    {
        return endpoints;
    }
}
