using System.Collections.Concurrent;
using System.Threading.Channels;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Tests.EndToEnd;

/// <summary>What WatchRollout does once it has written its updates.</summary>
internal enum StreamEnd
{
    Complete,
    BreakUnavailable,
    Hang,
}

/// <summary>FleetService with canned answers, recording what the CLI asked.</summary>
internal sealed class FakeFleetService : FleetService.FleetServiceBase
{
    public List<Host> Hosts { get; } = [];

    public Rollout? Rollout { get; set; }

    public List<Rollout> WatchUpdates { get; } = [];

    /// <summary>What StartRollout answers to a dry run.</summary>
    public Rollout? RolloutPlan { get; set; }

    /// <summary>What RollbackRollout answers (the new rollout) for <see cref="Rollout"/>'s id.</summary>
    public Rollout? Rollback { get; set; }

    public List<Rollout> History { get; } = [];

    /// <summary>Stored events; lock it to add while a follow polls.</summary>
    public List<FleetEventRecord> Events { get; } = [];

    /// <summary>Every ListEvents request, as it arrives: what a follow test waits on.</summary>
    public Channel<ListEventsRequest> EventPolls { get; } = Channel.CreateUnbounded<ListEventsRequest>();

    public StreamEnd WatchEnd { get; set; } = StreamEnd.Complete;

    /// <summary>When set, every call must carry "authorization: Bearer {RequiredToken}".</summary>
    public string? RequiredToken { get; set; }

    public ConcurrentQueue<string> Calls { get; } = new();

    public ConcurrentQueue<string?> Authorizations { get; } = new();

    public List<ConfigureHostRequest> ConfigureRequests { get; } = [];

    /// <summary>What ConfigureHost answers in "changed".</summary>
    public bool ConfigureChanged { get; set; } = true;

    /// <summary>When set, ConfigureHost refuses with this InvalidArgument message (as the controller's validation does).</summary>
    public string? ConfigureRefusal { get; set; }

    public HostPlan? Plan { get; set; }

    /// <summary>When set, PlanHost fails with it (e.g. the controller's DEADLINE_EXCEEDED for a silent host).</summary>
    public RpcException? PlanError { get; set; }

    /// <summary>Completed once WatchRollout has written all its updates.</summary>
    public TaskCompletionSource UpdatesWritten { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public List<EnrollmentToken> EnrollmentTokens { get; } = [];

    public List<ApiToken> ApiTokens { get; } = [];

    public List<AuditEntry> AuditEntries { get; } = [];

    public List<IMessage> Requests { get; } = [];

    public List<DriftRecord> DriftRecords { get; } = [];

    /// <summary>When set, every call fails with it (e.g. the interceptor's PermissionDenied for a viewer token).</summary>
    public RpcException? Refusal { get; set; }

    public override Task<EnrollmentToken> CreateEnrollmentToken(CreateEnrollmentTokenRequest request, ServerCallContext context)
    {
        Record(context, $"CreateEnrollmentToken ttl={request.TtlSeconds}", request);
        var token = new EnrollmentToken
        {
            Token = "oft_canned-token",
            ExpiresAt = Timestamp.FromDateTimeOffset(new DateTimeOffset(2025, 6, 1, 13, 0, 0, TimeSpan.Zero)),
            Id = "t-3kq9t2mzpa",
            HostName = request.HostName,
            Labels = { request.Labels },
            CaSha256 = request.HostName.Length > 0 ? new string('a', 64) : "",
        };
        return Task.FromResult(token);
    }

    public override Task<ListEnrollmentTokensResponse> ListEnrollmentTokens(ListEnrollmentTokensRequest request, ServerCallContext context)
    {
        Record(context, $"ListEnrollmentTokens all={request.IncludeSpent}", request);
        return Task.FromResult(new ListEnrollmentTokensResponse { Tokens = { EnrollmentTokens } });
    }

    public override Task<EnrollmentToken> RevokeEnrollmentToken(RevokeEnrollmentTokenRequest request, ServerCallContext context)
    {
        Record(context, $"RevokeEnrollmentToken {request.Id}", request);
        var token = EnrollmentTokens.FirstOrDefault(t => t.Id == request.Id)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"enrollment token '{request.Id}' not found; list them with `fleet token list --all`"));
        token.RevokedAt = Timestamp.FromDateTimeOffset(new DateTimeOffset(2025, 6, 1, 12, 30, 0, TimeSpan.Zero));
        return Task.FromResult(token);
    }

    public override Task<ApiToken> CreateApiToken(CreateApiTokenRequest request, ServerCallContext context)
    {
        Record(context, $"CreateApiToken {request.Name} {request.Role} ttl={request.TtlSeconds}", request);
        return Task.FromResult(new ApiToken
        {
            Id = "k-3kq9t2mzpa",
            Name = request.Name,
            Role = request.Role,
            Token = "ofk_canned-api-token",
            CreatedAt = Timestamp.FromDateTimeOffset(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero)),
            CreatedBy = "bootstrap",
        });
    }

    public override Task<ListApiTokensResponse> ListApiTokens(ListApiTokensRequest request, ServerCallContext context)
    {
        Record(context, "ListApiTokens", request);
        return Task.FromResult(new ListApiTokensResponse { Tokens = { ApiTokens } });
    }

    public override Task<ApiToken> RevokeApiToken(RevokeApiTokenRequest request, ServerCallContext context)
    {
        Record(context, $"RevokeApiToken {request.Id}", request);
        var token = ApiTokens.FirstOrDefault(t => t.Id == request.Id || t.Name == request.Id)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"API token '{request.Id}' not found; list them with `fleet apitoken list`"));
        token.RevokedAt = Timestamp.FromDateTimeOffset(new DateTimeOffset(2025, 6, 1, 12, 30, 0, TimeSpan.Zero));
        return Task.FromResult(token);
    }

    public override Task<ListAuditResponse> ListAudit(ListAuditRequest request, ServerCallContext context)
    {
        Record(context, $"ListAudit limit={request.Limit} actor={request.Actor}", request);
        return Task.FromResult(new ListAuditResponse { Entries = { AuditEntries } });
    }

    public override Task<WhoAmIResponse> WhoAmI(WhoAmIRequest request, ServerCallContext context)
    {
        Record(context, "WhoAmI", request);
        return Task.FromResult(new WhoAmIResponse { Actor = "token:alice (k-3kq9t2mzpa)", Role = Role.Operator, TokenId = "k-3kq9t2mzpa" });
    }

    public override Task<RemoveHostResponse> RemoveHost(RemoveHostRequest request, ServerCallContext context)
    {
        Record(context, $"RemoveHost {request.Id}", request);
        var host = Hosts.FirstOrDefault(h => h.Id == request.Id || h.Name == request.Id);
        if (host is not null)
        {
            Hosts.Remove(host);
        }

        return Task.FromResult(new RemoveHostResponse { HostId = host?.Id ?? "", HostName = host?.Name ?? request.Id, Removed = host is not null });
    }

    public override Task<ListHostsResponse> ListHosts(ListHostsRequest request, ServerCallContext context)
    {
        Record(context, "ListHosts");
        var response = new ListHostsResponse();
        response.Hosts.AddRange(Hosts);
        return Task.FromResult(response);
    }

    public override Task<Host> GetHost(GetHostRequest request, ServerCallContext context)
    {
        Record(context, $"GetHost {request.Id}");
        return Task.FromResult(Hosts.FirstOrDefault(h => h.Id == request.Id || h.Name == request.Id)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"host '{request.Id}' not found; list hosts with `fleet hosts`")));
    }

    public override Task<ConfigureHostResponse> ConfigureHost(ConfigureHostRequest request, ServerCallContext context)
    {
        Record(context, $"ConfigureHost {request.Id}");
        ConfigureRequests.Add(request.Clone());
        var host = Hosts.FirstOrDefault(h => h.Id == request.Id || h.Name == request.Id)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"host '{request.Id}' not found; list hosts with `fleet hosts`"));
        if (ConfigureRefusal is not null)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, ConfigureRefusal));
        }

        // Enough of the controller's merge for the CLI's output: domains, TLS and workers.
        var updated = host.Clone();
        updated.Profile ??= new HostProfile();
        if (request.Domains is not null)
        {
            updated.Profile.Domains.Clear();
            updated.Profile.Domains.AddRange(request.Domains.Values);
        }

        if (request.HasTls)
        {
            updated.Profile.Tls = request.Tls;
        }

        if (request.HasWorkers)
        {
            updated.Profile.Workers = request.Workers;
        }

        if (request.HasDriftDefaultMode)
        {
            updated.Profile.Drift ??= new DriftPolicy();
            updated.Profile.Drift.DefaultMode = request.DriftDefaultMode;
        }

        if (ConfigureChanged)
        {
            updated.DesiredGeneration++;
        }

        return Task.FromResult(new ConfigureHostResponse { Host = updated, Changed = ConfigureChanged });
    }

    public override Task<ListDriftResponse> ListDrift(ListDriftRequest request, ServerCallContext context)
    {
        Record(context, $"ListDrift host={request.Host} open={request.OpenOnly} limit={request.Limit}", request);
        return Task.FromResult(new ListDriftResponse
        {
            Records = { DriftRecords.Where(r => request.Host.Length == 0 || r.HostId == request.Host || r.HostName == request.Host) },
        });
    }

    public override Task<DriftRecord> GetDrift(GetDriftRequest request, ServerCallContext context)
    {
        Record(context, $"GetDrift {request.Host} {request.Id}", request);
        return Task.FromResult(
            DriftRecords.FirstOrDefault(r => (r.HostId == request.Host || r.HostName == request.Host) && r.Event.Id == request.Id)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"drift event '{request.Id}' of host '{request.Host}' not found; list them with `fleet drift`")));
    }

    /// <summary>Like the controller: the record's proposal applied once (generation 8), refused when it has none.</summary>
    public override Task<AcceptDriftResponse> AcceptDrift(AcceptDriftRequest request, ServerCallContext context)
    {
        Record(context, $"AcceptDrift {request.Host} {request.Id}", request);
        var record = DriftRecords.FirstOrDefault(r => (r.HostId == request.Host || r.HostName == request.Host) && r.Event.Id == request.Id)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"drift event '{request.Id}' of host '{request.Host}' not found; list them with `fleet drift`"));
        if (record.Event.Accept.Count == 0)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition,
                $"drift event '{request.Id}' cannot be accepted; to keep it as it is, stop correcting it with `fleet drift policy {request.Host} --resource {record.Event.ResourceId}=report`"));
        }

        var changed = record.AcceptedAt is null;
        record.AcceptedAt ??= Timestamp.FromDateTimeOffset(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
        return Task.FromResult(new AcceptDriftResponse { Generation = 8, Changed = changed, Applied = { record.Event.Accept } });
    }

    public override Task<HostPlan> PlanHost(PlanHostRequest request, ServerCallContext context)
    {
        Record(context, $"PlanHost {request.Id} timeout={request.TimeoutSeconds}");
        if (PlanError is not null)
        {
            throw PlanError;
        }

        return Task.FromResult(Plan is not null && (Plan.HostName == request.Id || Plan.HostId == request.Id)
            ? Plan
            : throw new RpcException(new Status(StatusCode.NotFound, $"host '{request.Id}' not found; list hosts with `fleet hosts`")));
    }

    public override Task<Rollout> StartRollout(StartRolloutRequest request, ServerCallContext context)
    {
        Record(context, $"StartRollout {request.Series}", request);
        if (request.DryRun && RolloutPlan is not null)
        {
            return Task.FromResult(RolloutPlan);
        }

        return request.Series == "18.0" && Rollout is not null
            ? Task.FromResult(Rollout)
            : throw new RpcException(new Status(StatusCode.InvalidArgument, $"version: no Odoo series '{request.Series}' in the source; available: 17.0, 18.0"));
    }

    public override Task<ListRolloutsResponse> ListRollouts(ListRolloutsRequest request, ServerCallContext context)
    {
        Record(context, $"ListRollouts limit={request.Limit}", request);
        return Task.FromResult(new ListRolloutsResponse { Rollouts = { History } });
    }

    public override Task<Rollout> PauseRollout(RolloutActionRequest request, ServerCallContext context) =>
        Act(context, "PauseRollout", request, RolloutState.Paused);

    public override Task<Rollout> ResumeRollout(RolloutActionRequest request, ServerCallContext context) =>
        Act(context, "ResumeRollout", request, RolloutState.Running);

    public override Task<Rollout> AbortRollout(RolloutActionRequest request, ServerCallContext context) =>
        Act(context, "AbortRollout", request, RolloutState.Aborted);

    public override Task<Rollout> RollbackRollout(RolloutActionRequest request, ServerCallContext context)
    {
        Record(context, $"RollbackRollout {request.Id}", request);
        return Task.FromResult(Rollback is not null && Rollout?.Id == request.Id
            ? Rollback
            : throw new RpcException(new Status(StatusCode.NotFound, $"rollout '{request.Id}' not found")));
    }

    public override Task<ListEventsResponse> ListEvents(ListEventsRequest request, ServerCallContext context)
    {
        Record(context, $"ListEvents type={request.TypePrefix} subject={request.Subject} limit={request.Limit}", request);
        var since = request.Since?.ToDateTimeOffset() ?? DateTimeOffset.MinValue;
        List<FleetEventRecord> matching;
        lock (Events)
        {
            matching = [.. Events
                .Where(e => e.OccurredAt.ToDateTimeOffset() >= since && e.Type.StartsWith(request.TypePrefix, StringComparison.Ordinal)
                    && (request.Subject.Length == 0 || e.Subject == request.Subject))
                .OrderBy(e => e.OccurredAt.ToDateTimeOffset())
                .ThenBy(e => e.Id)];
        }

        var limit = request.Limit == 0 ? 200 : request.Limit;
        EventPolls.Writer.TryWrite(request);
        return Task.FromResult(new ListEventsResponse { Events = { matching.Skip(Math.Max(0, matching.Count - limit)) } });
    }

    public override Task<Rollout> GetRollout(GetRolloutRequest request, ServerCallContext context)
    {
        Record(context, $"GetRollout {request.Id}");
        return Task.FromResult(Rollout is not null && Rollout.Id == request.Id
            ? Rollout
            : throw new RpcException(new Status(StatusCode.NotFound, $"rollout '{request.Id}' not found")));
    }

    public override async Task WatchRollout(GetRolloutRequest request, IServerStreamWriter<Rollout> responseStream, ServerCallContext context)
    {
        Record(context, $"WatchRollout {request.Id}");
        foreach (var update in WatchUpdates)
        {
            await responseStream.WriteAsync(update, context.CancellationToken);
        }

        UpdatesWritten.TrySetResult();
        switch (WatchEnd)
        {
            case StreamEnd.BreakUnavailable:
                throw new RpcException(new Status(StatusCode.Unavailable, "controller shutting down"));
            case StreamEnd.Hang:
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
                break;
        }
    }

    private Task<Rollout> Act(ServerCallContext context, string call, RolloutActionRequest request, RolloutState state)
    {
        Record(context, $"{call} {request.Id}", request);
        if (Rollout is null || Rollout.Id != request.Id)
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"rollout '{request.Id}' not found"));
        }

        var changed = Rollout.Clone();
        changed.State = state;
        return Task.FromResult(changed);
    }

    public List<Tenant> Tenants { get; } = [];

    /// <summary>What CreateTenant answers; null = NOT_FOUND would be wrong, so it refuses with RESOURCE_EXHAUSTED as a full fleet does.</summary>
    public CreateTenantResponse? TenantCreated { get; set; }

    public override Task<CreateTenantResponse> CreateTenant(CreateTenantRequest request, ServerCallContext context)
    {
        Record(context, nameof(CreateTenant), request);
        return TenantCreated is { } response
            ? Task.FromResult(response)
            : throw new RpcException(new Status(StatusCode.ResourceExhausted, "placement: no host fits a small tenant; add a host"));
    }

    /// <summary>What CloneTenant answers; null = the source is not found, as the controller says.</summary>
    public CreateTenantResponse? TenantCloned { get; set; }

    public override Task<CreateTenantResponse> CloneTenant(CloneTenantRequest request, ServerCallContext context)
    {
        Record(context, nameof(CloneTenant), request);
        return TenantCloned is { } response
            ? Task.FromResult(response)
            : throw new RpcException(new Status(StatusCode.NotFound, $"source: tenant '{request.Source}' not found; see `fleet tenant list`"));
    }

    public override Task<ListTenantsResponse> ListTenants(ListTenantsRequest request, ServerCallContext context)
    {
        Record(context, nameof(ListTenants), request);
        var response = new ListTenantsResponse { Truncated = request.Limit > 0 && Tenants.Count > request.Limit };
        response.Tenants.AddRange(request.Limit > 0 ? Tenants.Take(request.Limit) : Tenants);
        return Task.FromResult(response);
    }

    public override Task<Tenant> GetTenant(GetTenantRequest request, ServerCallContext context)
    {
        Record(context, nameof(GetTenant), request);
        if (Tenants.FirstOrDefault(t => t.Name == request.Name) is not { } tenant)
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"tenant '{request.Name}' not found"));
        }

        // Each look at a moving tenant finds its move one step further, as the hosts' reports would.
        if (tenant.Move is { } move && MoveProgress.TryDequeue(out var step))
        {
            move.Step = step;
            move.Error = step == TenantMoveStep.RolledBack ? "importing on web-02 failed: pg_restore: error" : "";
        }

        return Task.FromResult(tenant.Clone());
    }

    /// <summary>The steps a moving tenant shows on the next GetTenant calls, in order.</summary>
    public Queue<TenantMoveStep> MoveProgress { get; } = new();

    public override Task<MoveTenantResponse> MoveTenant(MoveTenantRequest request, ServerCallContext context)
    {
        Record(context, nameof(MoveTenant), request);
        var tenant = Tenants.FirstOrDefault(t => t.Name == request.Name)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"tenant '{request.Name}' not found"));
        var started = tenant.Move is null;
        tenant.Move ??= new TenantMove
        {
            Id = "m-3kq9t2mzpa",
            FromHostId = tenant.HostId,
            FromHostName = tenant.HostName,
            ToHostId = $"h-{request.ToHost}",
            ToHostName = request.ToHost,
            Step = TenantMoveStep.Exporting,
            UpdatedAt = tenant.UpdatedAt,
            StartedAt = tenant.UpdatedAt,
        };
        return Task.FromResult(new MoveTenantResponse
        {
            Tenant = tenant.Clone(),
            Move = tenant.Move.Clone(),
            Started = started,
            Summary = started ? $"{tenant.Name}: moving from {tenant.HostName} to {request.ToHost}" : $"{tenant.Name} is being moved already: nothing changed",
        });
    }

    public override Task<TenantActionResponse> SuspendTenant(TenantActionRequest request, ServerCallContext context) =>
        ChangeTenant(context, nameof(SuspendTenant), request, TenantState.Suspended);

    public override Task<TenantActionResponse> ResumeTenant(TenantActionRequest request, ServerCallContext context) =>
        ChangeTenant(context, nameof(ResumeTenant), request, TenantState.Active);

    public override Task<TenantActionResponse> DeleteTenant(TenantActionRequest request, ServerCallContext context) =>
        ChangeTenant(context, nameof(DeleteTenant), request, TenantState.Deleting);

    /// <summary>As the controller: the change is pending until the host converges (deleting is immediate); the same again is a no-op.</summary>
    private Task<TenantActionResponse> ChangeTenant(ServerCallContext context, string call, TenantActionRequest request, TenantState target)
    {
        Record(context, call, request);
        var tenant = Tenants.FirstOrDefault(t => t.Name == request.Name)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"tenant '{request.Name}' not found"));
        var already = tenant.State == target || tenant.PendingState == target;
        if (!already)
        {
            if (target == TenantState.Deleting)
            {
                tenant.State = TenantState.Deleting;
                tenant.PendingState = TenantState.Unspecified;
            }
            else
            {
                tenant.PendingState = target;
            }
        }

        return Task.FromResult(new TenantActionResponse
        {
            Tenant = tenant.Clone(),
            Changed = !already,
            Generation = 9,
            Summary = already ? $"{tenant.Name} is so already: nothing changed" : $"{tenant.Name}: {call} on {tenant.HostName} (desired generation 9)",
        });
    }

    private void Record(ServerCallContext context, string call, IMessage request)
    {
        Requests.Add(request);
        Record(context, call);
        if (Refusal is not null)
        {
            throw Refusal;
        }
    }

    private void Record(ServerCallContext context, string call)
    {
        var authorization = context.RequestHeaders.GetValue("authorization");
        Calls.Enqueue(call);
        Authorizations.Enqueue(authorization);
        if (RequiredToken is not null && authorization != $"Bearer {RequiredToken}")
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "API token missing or wrong; set \"apiToken\" in the fleet config file (see fleet --help)"));
        }
    }
}
