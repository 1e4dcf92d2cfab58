using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Template;

namespace Apex.Hosting.Http;

/// <summary>
/// Routing answers a body of the wrong media type with its own 415 endpoint, chosen before
/// authorization runs, so an anonymous caller would learn about the body before being asked who it
/// is. docs/spec/auth-api.md section 4 decides authentication first: when routing picked that 415
/// endpoint, the route it stands for requires authorization and the caller is not signed in, the
/// answer is 401.
/// </summary>
internal sealed class AuthenticateBeforeMediaType(RequestDelegate next, EndpointDataSource endpoints)
{
    // Microsoft.AspNetCore.Routing.Matching.AcceptsMatcherPolicy names its rejection endpoint so.
    private const string UnsupportedMediaTypeEndpoint = "415 HTTP Unsupported Media Type";

    public Task InvokeAsync(HttpContext context)
    {
        if (context.GetEndpoint() is { DisplayName: UnsupportedMediaTypeEndpoint } and not RouteEndpoint
            && context.User.Identity?.IsAuthenticated != true
            && TargetRequiresAuthorization(context.Request))
        {
            context.SetEndpoint(null);
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = "Bearer";
            return Problems.Result(StatusCodes.Status401Unauthorized, "Authentication is required.").ExecuteAsync(context);
        }

        return next(context);
    }

    private bool TargetRequiresAuthorization(HttpRequest request)
    {
        foreach (var endpoint in endpoints.Endpoints.OfType<RouteEndpoint>())
        {
            var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods;
            if (methods is { Count: > 0 } && !methods.Contains(request.Method, StringComparer.OrdinalIgnoreCase))
            {
                continue;
            }

            var matcher = new TemplateMatcher(new RouteTemplate(endpoint.RoutePattern), new RouteValueDictionary());
            if (!matcher.TryMatch(request.Path, new RouteValueDictionary()))
            {
                continue;
            }

            if (endpoint.Metadata.GetMetadata<IAllowAnonymous>() is null && endpoint.Metadata.GetMetadata<IAuthorizeData>() is not null)
            {
                return true;
            }
        }

        return false;
    }
}
