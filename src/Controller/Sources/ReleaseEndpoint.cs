using Grpc.Core;
using OdooFleet.Controller.Api;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Persistence;

namespace OdooFleet.Controller.Sources;

/// <summary>GET /releases/&lt;series&gt;-&lt;commit&gt;.tar.gz: release artifacts for authenticated agents only.</summary>
internal static partial class ReleaseEndpoint
{
    public const string Prefix = "/releases/";

    public static IEndpointConventionBuilder MapFleetReleases(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet(Prefix + "{file}", ServeAsync);

    /// <summary>"18.0-&lt;40 hex&gt;.tar.gz" -> the release, or null for anything else.</summary>
    internal static OdooRelease? ParseFileName(string file)
    {
        const string Suffix = ".tar.gz";
        if (!file.EndsWith(Suffix, StringComparison.Ordinal))
        {
            return null;
        }

        var stem = file[..^Suffix.Length];
        var dash = stem.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0)
        {
            return null;
        }

        var (series, commit) = (stem[..dash], stem[(dash + 1)..]);
        return Validation.IsSeries(series) && Validation.IsCommit(commit) ? new OdooRelease(series, commit) : null;
    }

    private static async Task<IResult> ServeAsync(
        string file, HttpContext http, AgentAuthenticator auth, ReleaseStore releases, ReleaseBuilder builder, ILoggerFactory loggers)
    {
        var ct = http.RequestAborted;
        try
        {
            // Same checks as every agent call (fleet CA, clientAuth, recorded serial, host present); refusals audited.
            await auth.AuthenticateAsync(http, "GET /releases", ct);
        }
        catch (RpcException e)
        {
            return Results.Text(e.Status.Detail, statusCode: StatusCodes.Status401Unauthorized);
        }

        var release = ParseFileName(file);
        // Only releases a rollout staged are served: this is no way to make the controller fetch arbitrary commits.
        if (release is null || await releases.FindAsync(release, ct) is null)
        {
            return Results.Text($"no staged release named '{UntrustedText.Printable(file, 80)}'; releases are staged by `fleet rollout`", statusCode: StatusCodes.Status404NotFound);
        }

        try
        {
            await builder.EnsureAsync(release, ct);
        }
        catch (Exception e) when (e is ReleaseBuildException or ReleaseResolutionException)
        {
            LogUnavailable(loggers.CreateLogger(typeof(ReleaseEndpoint).FullName!), release.ToString(), e.Message);
            return Results.Text($"release {release} is not available on this controller: {e.Message}", statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        return Results.File(builder.PathOf(release), "application/gzip", file, enableRangeProcessing: true);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Release {Release} could not be served: {Error}")]
    private static partial void LogUnavailable(ILogger logger, string release, string error);
}
