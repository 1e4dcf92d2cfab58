using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Apex.Hosting.Http;

/// <summary>
/// Cross-cutting HTTP behaviour of every Apex role: problem JSON for every error (404, 405, 413 …),
/// CORS limited to the configured origins, security headers, request size limits.
/// </summary>
public static class HttpDefaults
{
    public static WebApplicationBuilder AddApexHttpDefaults(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var environment = builder.Environment;
        var configuration = builder.Configuration;
        services.AddOptions<ApexOptions>()
            .Validate(o => string.IsNullOrWhiteSpace(o.PublicUrl) || PublicAddress.IsAbsoluteHttpUrl(o.PublicUrl),
                "Apex:PublicUrl must be an absolute http(s) URL such as https://apex.example.com.")
            // Without either, the addresses Apex announces (token discovery, the web app's config)
            // would have no trusted source in a real deployment.
            .Validate(o => !environment.IsProduction() || !string.IsNullOrWhiteSpace(o.PublicUrl) || PublicAddress.ExplicitAllowedHosts(configuration).Length > 0,
                "Apex:PublicUrl is required in Production (or an AllowedHosts list such as 'apex.example.com;localhost' instead of '*').");
        // Host filtering (AllowedHosts) runs inside ApexHttpMiddleware (UseApexHttpDefaults) instead of
        // first in the pipeline, so that a refused Host gets a problem body and the security headers.
        foreach (var filter in services.Where(d => d.ServiceType == typeof(Microsoft.AspNetCore.Hosting.IStartupFilter)
                     && d.ImplementationType?.Name == "HostFilteringStartupFilter").ToList())
        {
            services.Remove(filter);
        }

        // Host filtering must let the public address through: its host joins an explicit list.
        services.AddOptions<Microsoft.AspNetCore.HostFiltering.HostFilteringOptions>().PostConfigure<IOptions<ApexOptions>>((filtering, apex) =>
        {
            filtering.IncludeFailureMessage = false;
            if (Uri.TryCreate(apex.Value.PublicUrl, UriKind.Absolute, out var publicUrl)
                && filtering.AllowedHosts.Count > 0 && !filtering.AllowedHosts.Contains("*")
                && !filtering.AllowedHosts.Contains(publicUrl.IdnHost, StringComparer.OrdinalIgnoreCase))
            {
                filtering.AllowedHosts = [.. filtering.AllowedHosts, publicUrl.IdnHost];
            }
        });
        services.AddOptions<HttpLimitsOptions>().BindConfiguration(HttpLimitsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<HttpLimitsOptions>>((kestrel, limits) =>
        {
            kestrel.Limits.MaxRequestBodySize = limits.Value.MaxRequestBodyBytes;
            kestrel.Limits.MaxRequestLineSize = HttpLimitsOptions.RequestLineCeilingBytes;
            kestrel.Limits.MaxRequestHeadersTotalSize = HttpLimitsOptions.RequestHeadersCeilingBytes;
            kestrel.AddServerHeader = false;
        });

        services.AddProblemDetails();
        services.ConfigureHttpJsonOptions(o => Apex.Contracts.ApexJson.Apply(o.SerializerOptions));
        // Body binding errors are thrown so that ApexHttpMiddleware can answer them with a 422 problem
        // listing the field, instead of an empty 400.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);

        services.AddCors();
        services.AddOptions<CorsOptions>().Configure<IOptions<ApexOptions>>((cors, apex) =>
        {
            var origins = apex.Value.AllowedOrigins.Where(o => !string.IsNullOrWhiteSpace(o)).Select(o => o.TrimEnd('/')).ToArray();
            cors.AddDefaultPolicy(policy =>
            {
                if (origins.Length > 0)
                {
                    policy.WithOrigins(origins).AllowCredentials();
                }

                policy.WithMethods("GET", "POST", "PUT", "PATCH", "DELETE")
                    .WithHeaders("Authorization", "Content-Type", "Accept", "Last-Event-ID", "Idempotency-Key")
                    .WithExposedHeaders("Retry-After", "Location")
                    .SetPreflightMaxAge(TimeSpan.FromMinutes(10));
            });
        });

        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = async (context, ct) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
                var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
                context.HttpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await Problems.Result(StatusCodes.Status429TooManyRequests, $"Too many requests; retry in {seconds} s.")
                    .ExecuteAsync(context.HttpContext);
            };
        });
        return builder;
    }

    /// <param name="app">The application.</param>
    /// <param name="beforeRouting">
    /// Middleware that runs inside the error handling, limits, security headers and host filtering but
    /// ahead of routing, CORS, authentication, authorization and rate limiting (the real-time gateway's
    /// WebSocket upgrades, whose request lasts as long as the socket).
    /// </param>
    public static WebApplication UseApexHttpDefaults(this WebApplication app, Action<IApplicationBuilder>? beforeRouting = null)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseMiddleware<ApexHttpMiddleware>();
        app.UseHostFiltering();
        beforeRouting?.Invoke(app);
        app.UseRouting();
        app.UseCors();
        if (app.Services.GetService<IAuthenticationSchemeProvider>() is not null)
        {
            app.UseAuthentication();
            app.UseMiddleware<AuthenticateBeforeMediaType>();
        }

        if (app.Services.GetService<IAuthorizationPolicyProvider>() is not null)
        {
            app.UseAuthorization();
        }

        app.UseRateLimiter();
        return app;
    }

    /// <summary>Sets the largest body this route (or group) accepts; larger ones get a 413 problem.</summary>
    public static TBuilder WithRequestSizeLimit<TBuilder>(this TBuilder builder, long maxBytes)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RequestSizeLimit(maxBytes));
}
