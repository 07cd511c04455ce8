using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Grains;
using OdooFleet.Controller.Hosting;
using OdooFleet.Controller.Messaging;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Security;
using OdooFleet.Controller.Sources;
using Host = OdooFleet.Contracts.V1.Host;
using OdooRelease = OdooFleet.Controller.Domain.OdooRelease;

namespace OdooFleet.Controller.Api;

/// <summary>FleetService: what people and the CLI call.</summary>
internal sealed partial class FleetApi(
    EnrollmentStore enrollment,
    ApiTokenStore apiTokens,
    AuditStore audit,
    HostStore hosts,
    TenantStore tenants,
    TenantMoveStore moves,
    PlanStore plans,
    DriftStore drift,
    ReleaseResolver releases,
    ReleaseBuilder builder,
    RolloutStore rollouts,
    EventStore events,
    HostRemoval removal,
    IGrainFactory grains,
    FleetCertificateAuthority authority,
    IOptions<FleetOptions> options,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<FleetApi> logger) : FleetService.FleetServiceBase
{
    private const long MaxTokenTtlSeconds = 30 * 86400;
    private const long MaxApiTokenTtlSeconds = 366 * 86400;
    private const int DefaultAuditLimit = 1000;
    private static readonly TimeSpan DefaultAuditWindow = TimeSpan.FromHours(24);
    private const int DefaultDriftLimit = 1000;
    private static readonly TimeSpan DefaultDriftWindow = TimeSpan.FromHours(24);
    private const int DefaultPlanTimeoutSeconds = 60;
    private const int MaxPlanTimeoutSeconds = 600;
    private static readonly TimeSpan PlanPollInterval = TimeSpan.FromMilliseconds(250);

    private TimeSpan OfflineAfter => TimeSpan.FromSeconds(options.Value.OfflineAfterSeconds);

    public override async Task<EnrollmentToken> CreateEnrollmentToken(CreateEnrollmentTokenRequest request, ServerCallContext context)
    {
        var ttl = request.TtlSeconds == 0 ? options.Value.DefaultTokenTtlSeconds : request.TtlSeconds;
        if (ttl is < 60 or > MaxTokenTtlSeconds)
        {
            throw Invalid("ttl: must be between 1m and 30d (e.g. --ttl 1h)");
        }

        var hostName = request.HostName.Length == 0 ? null : request.HostName;
        if (hostName is not null && !Validation.IsHostName(hostName))
        {
            throw Invalid($"host_name: '{Printable(hostName)}' is not a valid host name (lowercase letters, digits and inner hyphens, at most 63); e.g. --name web-01");
        }

        var labelErrors = Labels.Validate(request.Labels);
        if (labelErrors.Count > 0)
        {
            throw Invalid(string.Join("; ", labelErrors));
        }

        var token = Identifiers.NewSecret("oft");
        var now = time.GetUtcNow();
        var record = new EnrollmentTokenRecord(
            Identifiers.New("t"), now, now.AddSeconds(ttl), hostName,
            new SortedDictionary<string, string>(request.Labels, StringComparer.Ordinal), ApiTokenInterceptor.CallerOf(context).Actor, null, null, null);
        await enrollment.CreateTokenAsync(record, Identifiers.Hash(token), context.CancellationToken);
        LogTokenCreated(logger, record.Id, record.ExpiresAt);
        var created = record.ToProto();
        created.Token = token;
        created.CaSha256 = authority.CaSha256;
        return created;
    }

    public override async Task<ListEnrollmentTokensResponse> ListEnrollmentTokens(ListEnrollmentTokensRequest request, ServerCallContext context)
    {
        var all = await enrollment.ListTokensAsync(request.IncludeSpent, time.GetUtcNow(), context.CancellationToken);
        var response = new ListEnrollmentTokensResponse();
        response.Tokens.AddRange(all.Select(t => t.ToProto()));
        return response;
    }

    public override async Task<EnrollmentToken> RevokeEnrollmentToken(RevokeEnrollmentTokenRequest request, ServerCallContext context)
    {
        if (!Validation.IsId(request.Id, 't'))
        {
            throw Invalid($"id: '{Printable(request.Id)}' is not an enrollment token id (like t-3kq9t2mzpa); list them with `fleet token list`");
        }

        var (outcome, token) = await enrollment.RevokeTokenAsync(request.Id, time.GetUtcNow(), context.CancellationToken);
        switch (outcome)
        {
            case TokenRevocation.Revoked:
                LogTokenRevoked(logger, request.Id);
                return token!.ToProto();
            case TokenRevocation.AlreadyUsed:
                throw new RpcException(new Status(StatusCode.FailedPrecondition,
                    $"token {request.Id} was already used by host {token!.UsedByHost}; to take that host out of the fleet, run `fleet host remove {token.UsedByHost} --yes`"));
            default:
                throw new RpcException(new Status(StatusCode.NotFound, $"enrollment token '{request.Id}' not found; list them with `fleet token list --all`"));
        }
    }

    public override async Task<ApiToken> CreateApiToken(CreateApiTokenRequest request, ServerCallContext context)
    {
        if (!Validation.IsHostName(request.Name))
        {
            throw Invalid($"name: '{Printable(request.Name)}' is not a token name (lowercase letters, digits and inner hyphens, at most 63; e.g. --name ci or --name alice)");
        }

        var role = request.Role.ToDomain();
        if (role == AccessRole.None)
        {
            throw Invalid("role: is required; use viewer, operator or admin (e.g. --role viewer)");
        }

        if (request.TtlSeconds is < 0 or > 0 and < 60 || request.TtlSeconds > MaxApiTokenTtlSeconds)
        {
            throw Invalid("ttl: must be between 1m and 366d, or 0 for a token that does not expire (e.g. --ttl 90d)");
        }

        var secret = Identifiers.NewSecret("ofk");
        var now = time.GetUtcNow();
        var record = new ApiTokenRecord(
            Identifiers.New("k"), request.Name, role, now, ApiTokenInterceptor.CallerOf(context).Actor,
            request.TtlSeconds == 0 ? null : now.AddSeconds(request.TtlSeconds), null, null);
        if (await apiTokens.CreateAsync(record, Identifiers.Hash(secret), context.CancellationToken) == ApiTokenCreation.NameTaken)
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists,
                $"name: an API token named '{request.Name}' already exists; revoke it first with `fleet apitoken revoke {request.Name}` or pick another name"));
        }

        LogApiTokenCreated(logger, record.Id, record.Name, role.ToText());
        var created = record.ToProto();
        created.Token = secret;
        return created;
    }

    public override async Task<ListApiTokensResponse> ListApiTokens(ListApiTokensRequest request, ServerCallContext context)
    {
        var all = await apiTokens.ListAsync(context.CancellationToken);
        var response = new ListApiTokensResponse();
        response.Tokens.AddRange(all.Select(t => t.ToProto()));
        return response;
    }

    public override async Task<ApiToken> RevokeApiToken(RevokeApiTokenRequest request, ServerCallContext context)
    {
        if (request.Id.Length is 0 or > 128)
        {
            throw Invalid("id: an API token id (like k-3kq9t2mzpa) or name is required; list them with `fleet apitoken list`");
        }

        var ct = context.CancellationToken;
        var found = await apiTokens.FindAsync(request.Id, ct)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"API token '{Printable(request.Id)}' not found; list them with `fleet apitoken list`"));
        var revoked = await apiTokens.RevokeAsync(found.Id, time.GetUtcNow(), ct)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"API token '{Printable(request.Id)}' not found; list them with `fleet apitoken list`"));
        LogApiTokenRevoked(logger, revoked.Id, revoked.Name);
        return revoked.ToProto();
    }

    public override async Task<ListAuditResponse> ListAudit(ListAuditRequest request, ServerCallContext context)
    {
        if (request.Limit is < 0 or > AuditStore.MaxLimit)
        {
            throw Invalid($"limit: {request.Limit} is out of range; use 1-{AuditStore.MaxLimit} (e.g. --limit 100)");
        }

        if (request.Actor.Length > 200)
        {
            throw Invalid("actor: at most 200 characters (e.g. --actor bootstrap)");
        }

        var since = request.Since?.ToDateTimeOffset() ?? time.GetUtcNow() - DefaultAuditWindow;
        var entries = await audit.ListAsync(
            since, request.Limit == 0 ? DefaultAuditLimit : request.Limit, request.Actor.Length == 0 ? null : request.Actor, context.CancellationToken);
        var response = new ListAuditResponse();
        response.Entries.AddRange(entries.Select(e => e.ToProto()));
        return response;
    }

    public override Task<WhoAmIResponse> WhoAmI(WhoAmIRequest request, ServerCallContext context)
    {
        var caller = ApiTokenInterceptor.CallerOf(context);
        return Task.FromResult(new WhoAmIResponse { Actor = caller.Actor, Role = caller.Role.ToProto(), TokenId = caller.TokenId ?? "" });
    }

    public override async Task<ListHostsResponse> ListHosts(ListHostsRequest request, ServerCallContext context)
    {
        var now = time.GetUtcNow();
        var all = await hosts.ListAsync(context.CancellationToken);
        var loads = await tenants.LoadsAsync(context.CancellationToken);
        var response = new ListHostsResponse();
        response.Hosts.AddRange(all.Select(h => WithTenants(h.ToProto(now, OfflineAfter), h, loads, now)));
        return response;
    }

    public override async Task<Host> GetHost(GetHostRequest request, ServerCallContext context)
    {
        if (request.Id.Length is 0 or > 128)
        {
            throw Invalid("id: a host id or name is required");
        }

        var host = await hosts.FindAsync(request.Id, context.CancellationToken) ?? throw HostNotFound(request.Id);
        var now = time.GetUtcNow();
        return WithTenants(host.ToProto(now, OfflineAfter), host, await tenants.LoadsAsync(context.CancellationToken), now);
    }

    public override async Task<ListDriftResponse> ListDrift(ListDriftRequest request, ServerCallContext context)
    {
        if (request.Limit is < 0 or > DriftStore.MaxLimit)
        {
            throw Invalid($"limit: {request.Limit} is out of range; use 1-{DriftStore.MaxLimit} (e.g. --limit 100)");
        }

        var ct = context.CancellationToken;
        var hostId = request.Host.Length == 0 ? null : (await FindHostAsync(request.Host, ct)).Id;
        // Open drift stays open however old it is: without an explicit --since, --open looks at all of it.
        DateTimeOffset? since = request.Since is { } from ? from.ToDateTimeOffset()
            : request.OpenOnly ? null
            : time.GetUtcNow() - DefaultDriftWindow;
        var records = await drift.ListAsync(hostId, since, request.OpenOnly, request.Limit == 0 ? DefaultDriftLimit : request.Limit, ct);
        var response = new ListDriftResponse();
        response.Records.AddRange(records.Select(r => r.ToProto()));
        return response;
    }

    public override async Task<DriftRecord> GetDrift(GetDriftRequest request, ServerCallContext context)
    {
        if (!DriftRules.IsEventId(request.Id))
        {
            throw Invalid($"id: '{Printable(request.Id)}' is not a drift event id (1-64 of A-Z, a-z, 0-9, _ and -); list them with `fleet drift`");
        }

        var ct = context.CancellationToken;
        var host = await FindHostAsync(request.Host, ct);
        var record = await drift.GetAsync(host.Id, request.Id, ct)
            ?? throw new RpcException(new Status(StatusCode.NotFound,
                $"drift event '{request.Id}' of host '{host.Name}' not found; list them with `fleet drift --host {host.Name} --since 30d`"));
        return record.ToProto();
    }

    /// <summary>
    /// Makes the observed value of a drift record the host's desired value: the agent's proposal
    /// becomes a profile change that passes the same rules and the same grain path as ConfigureHost
    /// (one generation bump, HostSpecChanged), then the record is marked accepted with a
    /// DriftAccepted event. A retry after a failure between the two steps changes the profile no
    /// further (the same change bumps once) and completes the mark.
    /// </summary>
    public override async Task<AcceptDriftResponse> AcceptDrift(AcceptDriftRequest request, ServerCallContext context)
    {
        if (!DriftRules.IsEventId(request.Id))
        {
            throw Invalid($"id: '{Printable(request.Id)}' is not a drift event id (1-64 of A-Z, a-z, 0-9, _ and -); list them with `fleet drift`");
        }

        var ct = context.CancellationToken;
        var host = await FindHostAsync(request.Host, ct);
        var record = await drift.GetAsync(host.Id, request.Id, ct)
            ?? throw new RpcException(new Status(StatusCode.NotFound,
                $"drift event '{request.Id}' of host '{host.Name}' not found; list them with `fleet drift --host {host.Name} --since 30d`"));
        var e = record.Event;
        if (record.AcceptedAt is not null)
        {
            return Accepted(record.AcceptedGeneration, changed: false, e.Accept);
        }

        var what = $"drift event '{e.Id}' of host '{host.Name}' ({e.ResourceId}: {e.Actual})";
        if (e.Accept.Count == 0)
        {
            throw FailedPrecondition(
                $"{what} cannot be accepted: what was observed is not a value the host's spec holds (a stopped service, a removed file, "
                + "a mode or owner change, a secret or a setting the profile owns); to keep it as it is, stop correcting it with "
                + $"`fleet drift policy {host.Name} --resource {e.ResourceId}=report` or `--ignore {e.ResourceId}`");
        }

        if (await drift.NewerOfSameResourceAsync(record, ct) is { } newer)
        {
            throw FailedPrecondition(
                $"{what} is superseded: {e.ResourceId} drifted again later (event '{newer}'); see it with `fleet drift show {host.Name} {newer}` "
                + "and accept that one if its observed value is the one to keep");
        }

        var (change, errors) = DriftAcceptance.ToChange(e.Accept);
        if (change is not null)
        {
            errors = ProfileRules.Validate(change);
        }

        if (change is null || errors.Count > 0)
        {
            throw FailedPrecondition($"{what} cannot be accepted, the observed value breaks the host profile's rules: {string.Join("; ", errors)}; "
                + "the record stays as it is (under policy correct the agent puts the value back)");
        }

        var update = await grains.GetGrain<IHostGrain>(host.Id).Configure(change, $"fleet drift accept {e.Id}");
        if (!update.Found)
        {
            throw HostNotFound(request.Host);
        }

        if (update.Errors.Length > 0)
        {
            throw FailedPrecondition($"{what} cannot be accepted, the host's profile with the observed value breaks its rules: {string.Join("; ", update.Errors)}");
        }

        var actor = ApiTokenInterceptor.CallerOf(context).Actor;
        if (!await drift.MarkAcceptedAsync(host.Id, e.Id, actor, update.Generation, e.Accept, time.GetUtcNow(), ct))
        {
            // Accepted meanwhile by a concurrent call: report that acceptance.
            var again = await drift.GetAsync(host.Id, e.Id, ct) ?? throw HostNotFound(request.Host);
            return Accepted(again.AcceptedGeneration, changed: false, e.Accept);
        }

        LogDriftAccepted(logger, host.Id, e.Id, e.ResourceId, update.Generation, actor);
        return Accepted(update.Generation, update.Changed, e.Accept);
    }

    private static AcceptDriftResponse Accepted(long generation, bool changed, IReadOnlyList<DriftPatch> applied) => new()
    {
        Generation = generation,
        Changed = changed,
        Applied = { applied.Select(p => new SpecPatch { Path = p.Path, Value = p.Value }) },
    };

    private static RpcException FailedPrecondition(string message) => new(new Status(StatusCode.FailedPrecondition, message));

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

    public override async Task<RemoveHostResponse> RemoveHost(RemoveHostRequest request, ServerCallContext context)
    {
        if (request.Id.Length is 0 or > 128)
        {
            throw Invalid("id: a host id or name is required (e.g. `fleet host remove web1`)");
        }

        HostRemovalResult? result;
        try
        {
            result = await removal.RemoveAsync(request.Id, context.CancellationToken);
        }
        catch (BrokerManagementException e)
        {
            // Nothing is lost: the host row stays until its broker access is gone, and a retry finishes the job.
            throw new RpcException(new Status(StatusCode.Unavailable,
                $"host '{Printable(request.Id)}' was not removed: revoking its broker access failed ({e.Message}); fix that and run the removal again"));
        }

        return (result ?? throw HostNotFound(request.Id)).ToProto();
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Drift {EventId} of host {HostId} ({ResourceId}) accepted by {Actor}: desired generation {Generation}")]
    private static partial void LogDriftAccepted(ILogger logger, string hostId, string eventId, string resourceId, long generation, string actor);

    [LoggerMessage(Level = LogLevel.Information, Message = "Enrollment token {TokenId} created, expires {ExpiresAt}")]
    private static partial void LogTokenCreated(ILogger logger, string tokenId, DateTimeOffset expiresAt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Enrollment token {TokenId} revoked")]
    private static partial void LogTokenRevoked(ILogger logger, string tokenId);

    [LoggerMessage(Level = LogLevel.Information, Message = "API token {TokenId} ({Name}) created with role {Role}")]
    private static partial void LogApiTokenCreated(ILogger logger, string tokenId, string name, string role);

    [LoggerMessage(Level = LogLevel.Information, Message = "API token {TokenId} ({Name}) revoked")]
    private static partial void LogApiTokenRevoked(ILogger logger, string tokenId, string name);

    [LoggerMessage(Level = LogLevel.Information, Message = "Plan {RequestId} requested from host {HostId}, waiting up to {TimeoutSeconds} s")]
    private static partial void LogPlanRequested(ILogger logger, string hostId, string requestId, int timeoutSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Plan {RequestId} for host {HostId} could not be sent: {Error}")]
    private static partial void LogPlanNotSent(ILogger logger, string hostId, string requestId, string error);
}
