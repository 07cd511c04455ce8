using Grpc.Core;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Hosting;
using OdooFleet.Controller.Messaging;
using OdooFleet.Controller.Persistence;

namespace OdooFleet.Controller.Api;

/// <summary>
/// /tenant-moves/&lt;move id&gt;/archive on the agent endpoint (mutual TLS, as release downloads):
/// PUT by the move's source host (the body's sha256 must be the X-Archive-Sha256 header), GET by
/// its target host while it imports. The archive lives in PostgreSQL, so any controller serves it.
/// </summary>
internal static partial class TenantMoveEndpoint
{
    public const string Sha256Header = "X-Archive-Sha256";

    public static IEndpointRouteBuilder MapTenantMoveArchives(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPut(TenantMoveRules.PathPrefix + "{moveId}/archive", UploadAsync);
        endpoints.MapGet(TenantMoveRules.PathPrefix + "{moveId}/archive", DownloadAsync);
        return endpoints;
    }

    private static async Task<IResult> UploadAsync(
        string moveId, HttpContext http, AgentAuthenticator auth, TenantMoveStore moves, HostCommandPublisher commands,
        IOptions<FleetOptions> options, TimeProvider time, ILoggerFactory loggers)
    {
        var ct = http.RequestAborted;
        string hostId;
        try
        {
            hostId = await auth.AuthenticateAsync(http, "PUT /tenant-moves", ct);
        }
        catch (RpcException e)
        {
            return Results.Text(e.Status.Detail, statusCode: StatusCodes.Status401Unauthorized);
        }

        if (!Validation.IsId(moveId, 'm'))
        {
            return Results.Text($"'{UntrustedText.Printable(moveId, 40)}' is not a move id (like m-3kq9t2mzpa)", statusCode: StatusCodes.Status400BadRequest);
        }

        var sha256 = http.Request.Headers[Sha256Header].ToString();
        if (!TenantMoveRules.IsSha256(sha256))
        {
            return Results.Text($"{Sha256Header}: the archive's sha256 (64 lowercase hex digits) is required", statusCode: StatusCodes.Status400BadRequest);
        }

        // An archive may be far larger than Kestrel's default body limit; the store bounds it instead.
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = null;
        }

        var result = await moves.StoreArchiveAsync(moveId, hostId, http.Request.Body, sha256, options.Value.TenantMoveMaxArchiveBytes, time.GetUtcNow(), ct);
        var logger = loggers.CreateLogger(typeof(TenantMoveEndpoint).FullName!);
        switch (result.Outcome)
        {
            case ArchiveUpload.Stored:
            {
                var move = result.Move!;
                LogStored(logger, move.TenantName, move.Id, move.ArchiveBytes ?? 0, move.TargetHostId, move.TargetGeneration);
                await commands.TrySendConvergeAsync(move.TargetHostId, move.TargetGeneration, CancellationToken.None);
                return Results.Text("stored", statusCode: StatusCodes.Status200OK);
            }

            case ArchiveUpload.AlreadyStored:
                return Results.Text("stored already", statusCode: StatusCodes.Status200OK);
            case ArchiveUpload.NotFound or ArchiveUpload.WrongHost:
                return Results.Text(result.Detail, statusCode: StatusCodes.Status404NotFound);
            case ArchiveUpload.TooLarge:
                return Results.Text(result.Detail, statusCode: StatusCodes.Status413PayloadTooLarge);
            case ArchiveUpload.Corrupt:
                LogCorrupt(logger, moveId, hostId, result.Detail);
                return Results.Text(result.Detail, statusCode: StatusCodes.Status422UnprocessableEntity);
            default:
                return Results.Text(result.Detail, statusCode: StatusCodes.Status409Conflict);
        }
    }

    private static async Task DownloadAsync(string moveId, HttpContext http, AgentAuthenticator auth, TenantMoveStore moves)
    {
        var ct = http.RequestAborted;
        string hostId;
        try
        {
            hostId = await auth.AuthenticateAsync(http, "GET /tenant-moves", ct);
        }
        catch (RpcException e)
        {
            http.Response.StatusCode = StatusCodes.Status401Unauthorized;
            await http.Response.WriteAsync(e.Status.Detail, ct);
            return;
        }

        var refused = Validation.IsId(moveId, 'm')
            ? await moves.ReadArchiveAsync(moveId, hostId, bytes =>
            {
                http.Response.StatusCode = StatusCodes.Status200OK;
                http.Response.ContentType = "application/x-tar";
                http.Response.ContentLength = bytes;
                return http.Response.Body;
            }, ct)
            : "not a move id";
        if (refused is not null)
        {
            http.Response.StatusCode = StatusCodes.Status404NotFound;
            await http.Response.WriteAsync(refused, ct);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Tenant {Tenant} move {MoveId}: archive stored ({Bytes} bytes, sha256 checked); host {HostId} imports it at generation {Generation}")]
    private static partial void LogStored(ILogger logger, string tenant, string moveId, long bytes, string hostId, long generation);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tenant move {MoveId}: archive from host {HostId} refused: {Detail}")]
    private static partial void LogCorrupt(ILogger logger, string moveId, string hostId, string detail);
}
