using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Grains;
using OdooFleet.Controller.Hosting;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Security;
using OdooFleet.Controller.Sources;
using Host = OdooFleet.Contracts.V1.Host;
using OdooRelease = OdooFleet.Controller.Domain.OdooRelease;
using RolloutState = OdooFleet.Controller.Grains.RolloutState;

namespace OdooFleet.Controller.Api;

/// <summary>FleetService: what people and the CLI call.</summary>
internal sealed partial class FleetApi(
    EnrollmentStore enrollment,
    HostStore hosts,
    PlanStore plans,
    ReleaseResolver releases,
    IGrainFactory grains,
    FleetCertificateAuthority authority,
    IOptions<FleetOptions> options,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<FleetApi> logger) : FleetService.FleetServiceBase
{
    private const long MaxTokenTtlSeconds = 30 * 86400;
    private const int DefaultPlanTimeoutSeconds = 60;
    private const int MaxPlanTimeoutSeconds = 600;
    private static readonly TimeSpan WatchPollInterval = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan PlanPollInterval = TimeSpan.FromMilliseconds(250);

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
        return new EnrollmentToken { Token = token, ExpiresAt = Timestamp.FromDateTimeOffset(expires), CaSha256 = authority.CaSha256 };
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

        var host = await hosts.FindAsync(request.Id, context.CancellationToken) ?? throw HostNotFound(request.Id);
        return host.ToProto(time.GetUtcNow(), OfflineAfter);
    }

    public override async Task<ConfigureHostResponse> ConfigureHost(ConfigureHostRequest request, ServerCallContext context)
    {
        var host = await FindHostAsync(request.Id, context.CancellationToken);
        var change = request.ToDomain();
        var errors = ProfileRules.Validate(change);
        if (errors.Count > 0)
        {
            throw Invalid(string.Join("; ", errors));
        }

        var update = await grains.GetGrain<IHostGrain>(host.Id).Configure(change, "fleet host configure");
        if (!update.Found)
        {
            throw HostNotFound(request.Id);
        }

        if (update.Errors.Length > 0)
        {
            throw Invalid(string.Join("; ", update.Errors));
        }

        var stored = await hosts.FindAsync(host.Id, context.CancellationToken) ?? throw HostNotFound(request.Id);
        return new ConfigureHostResponse { Host = stored.ToProto(time.GetUtcNow(), OfflineAfter), Changed = update.Changed };
    }

    public override async Task<HostPlan> PlanHost(PlanHostRequest request, ServerCallContext context)
    {
        var timeoutSeconds = request.TimeoutSeconds == 0 ? DefaultPlanTimeoutSeconds : request.TimeoutSeconds;
        if (timeoutSeconds is < 1 or > MaxPlanTimeoutSeconds)
        {
            throw Invalid($"timeout: {request.TimeoutSeconds} s is out of range; use 1s-10m (e.g. --timeout 2m)");
        }

        var ct = context.CancellationToken;
        var host = await FindHostAsync(request.Id, ct);
        var requestId = Identifiers.New("p");
        var requestedAt = time.GetUtcNow();
        // Persisted before announced: the agent's answer always finds its row.
        await plans.CreateAsync(requestId, host.Id, requestedAt, ct);
        try
        {
            await grains.GetGrain<IHostGrain>(host.Id).SendPlan(requestId);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogPlanNotSent(logger, host.Id, requestId, e.Message);
            throw new RpcException(new Status(StatusCode.Unavailable,
                $"could not queue the plan request for host '{host.Name}' on the message broker ({e.Message}); check RabbitMQ and try again"));
        }

        LogPlanRequested(logger, host.Id, requestId, timeoutSeconds);
        var deadline = requestedAt.AddSeconds(timeoutSeconds);
        // A stopping controller must not hold its shutdown for the wait: the CLI asks another one.
        using var waitEnd = CancellationTokenSource.CreateLinkedTokenSource(ct, lifetime.ApplicationStopping);
        StoredPlan? answered;
        try
        {
            answered = await plans.WaitForReportAsync(requestId, deadline, time, PlanPollInterval, waitEnd.Token);
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "controller is stopping; ask again (another controller answers)"));
        }

        if (answered is null)
        {
            var seen = host.LastSeen is { } last ? $"last heartbeat {(long)(time.GetUtcNow() - last).TotalSeconds} s ago" : "it never sent a heartbeat";
            throw new RpcException(new Status(StatusCode.DeadlineExceeded,
                $"host '{host.Name}' did not answer plan {requestId} within {timeoutSeconds} s ({seen}); it may be offline or its agent busy "
                + "(a long converge holds the lock); check `fleet host show " + host.Name + "` and try again, or pass a longer --timeout"));
        }

        return answered.ToProto(host.Name);
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

    private async Task<HostRecord> FindHostAsync(string idOrName, CancellationToken ct)
    {
        if (idOrName.Length is 0 or > 128)
        {
            throw Invalid("id: a host id or name is required");
        }

        return await hosts.FindAsync(idOrName, ct) ?? throw HostNotFound(idOrName);
    }

    private static RpcException HostNotFound(string idOrName) =>
        new(new Status(StatusCode.NotFound, $"host '{Printable(idOrName)}' not found; list hosts with `fleet hosts`"));

    private static string Printable(string value) => ProfileRules.Printable(value);

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));

    [LoggerMessage(Level = LogLevel.Information, Message = "Enrollment token {TokenId} created, expires {ExpiresAt}")]
    private static partial void LogTokenCreated(ILogger logger, string tokenId, DateTimeOffset expiresAt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Plan {RequestId} requested from host {HostId}, waiting up to {TimeoutSeconds} s")]
    private static partial void LogPlanRequested(ILogger logger, string hostId, string requestId, int timeoutSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Plan {RequestId} for host {HostId} could not be sent: {Error}")]
    private static partial void LogPlanNotSent(ILogger logger, string hostId, string requestId, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Rollout {RolloutId} of {Release} started on {HostCount} host(s)")]
    private static partial void LogRolloutStarted(ILogger logger, string rolloutId, string release, int hostCount);
}
