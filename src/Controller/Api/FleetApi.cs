using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Grains;
using OdooFleet.Controller.Hosting;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Sources;
using Host = OdooFleet.Contracts.V1.Host;
using OdooRelease = OdooFleet.Controller.Domain.OdooRelease;
using RolloutState = OdooFleet.Controller.Grains.RolloutState;

namespace OdooFleet.Controller.Api;

/// <summary>FleetService: what people and the CLI call.</summary>
internal sealed partial class FleetApi(
    EnrollmentStore enrollment,
    HostStore hosts,
    ReleaseResolver releases,
    IGrainFactory grains,
    IOptions<FleetOptions> options,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<FleetApi> logger) : FleetService.FleetServiceBase
{
    private const long MaxTokenTtlSeconds = 30 * 86400;
    private static readonly TimeSpan WatchPollInterval = TimeSpan.FromMilliseconds(500);

    private TimeSpan OfflineAfter => TimeSpan.FromSeconds(options.Value.OfflineAfterSeconds);

    public override async Task<EnrollmentToken> CreateEnrollmentToken(CreateEnrollmentTokenRequest request, ServerCallContext context)
    {
        var ttl = request.TtlSeconds == 0 ? options.Value.DefaultTokenTtlSeconds : request.TtlSeconds;
        if (ttl is < 60 or > MaxTokenTtlSeconds)
        {
            throw Invalid("ttl: must be between 1m and 30d (e.g. --ttl 1h)");
        }

        var token = Identifiers.NewSecret("oft");
        var id = Identifiers.New("t");
        var now = time.GetUtcNow();
        var expires = now.AddSeconds(ttl);
        await enrollment.CreateTokenAsync(id, Identifiers.Hash(token), now, expires, context.CancellationToken);
        LogTokenCreated(logger, id, expires);
        return new EnrollmentToken { Token = token, ExpiresAt = Timestamp.FromDateTimeOffset(expires) };
    }

    public override async Task<ListHostsResponse> ListHosts(ListHostsRequest request, ServerCallContext context)
    {
        var now = time.GetUtcNow();
        var all = await hosts.ListAsync(context.CancellationToken);
        var response = new ListHostsResponse();
        response.Hosts.AddRange(all.Select(h => h.ToProto(now, OfflineAfter)));
        return response;
    }

    public override async Task<Host> GetHost(GetHostRequest request, ServerCallContext context)
    {
        if (request.Id.Length is 0 or > 128)
        {
            throw Invalid("id: a host id or name is required");
        }

        var host = await hosts.FindAsync(request.Id, context.CancellationToken)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"host '{request.Id}' not found; list hosts with `fleet hosts`"));
        return host.ToProto(time.GetUtcNow(), OfflineAfter);
    }

    public override async Task<Rollout> StartRollout(StartRolloutRequest request, ServerCallContext context)
    {
        if (!Validation.IsSeries(request.Series))
        {
            throw Invalid($"version: '{request.Series}' is not an Odoo series; use the form 18.0");
        }

        var ct = context.CancellationToken;
        var targets = await hosts.ListAsync(ct);
        if (targets.Count == 0)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition,
                "no hosts are enrolled; create a token with `fleet token create` and run `odoofleet-agent enroll` on a host"));
        }

        OdooRelease release;
        try
        {
            // Resolved once, here: every host of this rollout gets the same commit.
            release = await releases.ResolveAsync(request.Series, ct);
        }
        catch (ReleaseResolutionException e)
        {
            throw new RpcException(new Status(e.SourceUnreachable ? StatusCode.Unavailable : StatusCode.InvalidArgument, e.Message));
        }

        var id = Identifiers.New("r");
        var state = await grains.GetGrain<IRolloutGrain>(id).Start(release, [.. targets.Select(h => new RolloutTarget(h.Id, h.Name))]);
        LogRolloutStarted(logger, id, release.ToString(), targets.Count);
        return state.ToProto();
    }

    public override async Task<Rollout> GetRollout(GetRolloutRequest request, ServerCallContext context) =>
        (await LoadRolloutAsync(request.Id)).ToProto();

    public override async Task WatchRollout(GetRolloutRequest request, IServerStreamWriter<Rollout> responseStream, ServerCallContext context)
    {
        // Ends when the controller stops; the CLI reconnects to another controller and carries on.
        using var streamEnd = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        var ct = streamEnd.Token;
        var state = await LoadRolloutAsync(request.Id);
        var grain = grains.GetGrain<IRolloutGrain>(request.Id);
        long sent = -1;
        while (!ct.IsCancellationRequested)
        {
            if (state.Version != sent)
            {
                await responseStream.WriteAsync(state.ToProto(), ct);
                sent = state.Version;
            }

            if (state.Status != RolloutStatus.Running)
            {
                return;
            }

            try
            {
                await Task.Delay(WatchPollInterval, time, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            state = await grain.Get();
        }
    }

    private async Task<RolloutState> LoadRolloutAsync(string id)
    {
        if (!Validation.IsId(id, 'r'))
        {
            throw Invalid($"id: '{(id.Length > 40 ? id[..40] : id)}' is not a rollout id (like r-3kq9t2mzpa)");
        }

        var state = await grains.GetGrain<IRolloutGrain>(id).Get();
        return state.Status == RolloutStatus.None
            ? throw new RpcException(new Status(StatusCode.NotFound, $"rollout '{id}' not found"))
            : state;
    }

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));

    [LoggerMessage(Level = LogLevel.Information, Message = "Enrollment token {TokenId} created, expires {ExpiresAt}")]
    private static partial void LogTokenCreated(ILogger logger, string tokenId, DateTimeOffset expiresAt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Rollout {RolloutId} of {Release} started on {HostCount} host(s)")]
    private static partial void LogRolloutStarted(ILogger logger, string rolloutId, string release, int hostCount);
}
