using Grpc.Core;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Grains;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Planning;
using Host = OdooFleet.Contracts.V1.Host;
using TenantState = OdooFleet.Contracts.V1.TenantState;

namespace OdooFleet.Controller.Api;

/// <summary>FleetService: tenants (create with placement, list, show, suspend, resume, delete).</summary>
internal sealed partial class FleetApi
{
    private const int DefaultTenantLimit = 1000;

    public override async Task<CreateTenantResponse> CreateTenant(CreateTenantRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        var tenantRequest = new TenantRequest(
            request.Name,
            [.. request.Domains],
            request.Plan.Length == 0 ? TenantRules.DefaultPlan : request.Plan,
            request.Host.Length == 0 ? null : request.Host,
            new SortedDictionary<string, string>(request.Selector, StringComparer.Ordinal),
            request.Modules.Count == 0 ? [TenantRules.DefaultModules] : [.. request.Modules])
        {
            Lang = request.Lang.Length == 0 ? null : request.Lang,
            Country = request.Country.Length == 0 ? null : request.Country,
        };
        var errors = TenantRules.Validate(tenantRequest);
        if (errors.Count > 0)
        {
            throw Invalid(string.Join("; ", errors));
        }

        var fleet = await hosts.ListAsync(ct);
        if (tenantRequest.Host is { } named && !fleet.Any(h => h.Name == named || h.Id == named))
        {
            throw HostNotFound(named);
        }

        var placement = new PlacementRequest(TenantPlan.Find(tenantRequest.Plan)!, tenantRequest.Host, tenantRequest.Selector);
        return await PlaceTenantAsync(tenantRequest, placement, fleet, request.DryRun, context);
    }

    /// <summary>
    /// A new tenant seeded from an existing one: the create rules for its name and domains, placed on
    /// the source's host only (the agent copies the source database locally while it keeps serving),
    /// within that host's room. Stored, idempotent and told to the host exactly as a create.
    /// </summary>
    public override async Task<CreateTenantResponse> CloneTenant(CloneTenantRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        if (!Validation.IsHostName(request.Source))
        {
            throw Invalid($"source: '{Printable(request.Source)}' is not a tenant name or id (lowercase letters, digits and inner hyphens); list them with `fleet tenant list`");
        }

        var source = await tenants.FindAsync(request.Source, ct)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"source: tenant '{request.Source}' not found; search with `fleet tenant list --search {request.Source}`"));
        var tenantRequest = new TenantRequest(
            request.Name,
            [.. request.Domains],
            request.Plan.Length == 0 ? source.Plan : request.Plan,
            null,
            new SortedDictionary<string, string>(StringComparer.Ordinal),
            source.Modules)
        {
            CloneOf = source.Name,
            Neutralize = request.Neutralize,
        };
        var errors = TenantRules.Validate(tenantRequest).ToList();
        if (request.Host.Length > 0 && request.Host != source.HostName && request.Host != source.HostId)
        {
            errors.Add($"host: a clone is made on its source's host (tenant {source.Name} is on {source.HostName}): the copy reads the source database there while it keeps serving; "
                + $"leave out --host (or give --host {source.HostName})");
        }

        if (errors.Count > 0)
        {
            throw Invalid(string.Join("; ", errors));
        }

        if (source.State is Domain.TenantState.Creating or Domain.TenantState.Deleting)
        {
            throw SourceNotReady(source.Name, $"tenant {source.Name} is {TenantStore.StateText(source.State)}");
        }

        var placement = new PlacementRequest(TenantPlan.Find(tenantRequest.Plan)!, source.HostId, tenantRequest.Selector);
        return await PlaceTenantAsync(tenantRequest, placement, await hosts.ListAsync(ct), request.DryRun, context);
    }

    /// <summary>Create and clone after their own checks: the domain rules against hosts' own sites, placement (or its dry run), storing, telling the host.</summary>
    private async Task<CreateTenantResponse> PlaceTenantAsync(
        TenantRequest tenantRequest, PlacementRequest placement, IReadOnlyList<HostRecord> fleet, bool dryRun, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        var now = time.GetUtcNow();

        // A host's own site (fleet host configure --domain) and a tenant never share a name: nginx would serve only one.
        if (fleet.FirstOrDefault(h => h.Profile.Domains.Intersect(tenantRequest.Domains, StringComparer.Ordinal).Any()) is { } owner)
        {
            var domain = owner.Profile.Domains.Intersect(tenantRequest.Domains, StringComparer.Ordinal).First();
            throw new RpcException(new Status(StatusCode.AlreadyExists,
                $"domain: {domain} is host {owner.Name}'s own domain (fleet host configure --domain), and a domain serves one site only; use another domain"));
        }

        PlacementDecision Place(IReadOnlyDictionary<string, TenantLoad> loads) => TenantPlacement.Place(
            placement,
            [.. fleet.Select(h => PlacementHost.From(h, loads.GetValueOrDefault(h.Id, TenantLoad.None), now, OfflineAfter))],
            PlacementPolicy.Default);

        var verb = tenantRequest.CloneOf is null ? "create" : "clone";
        if (dryRun)
        {
            var decision = Place(await tenants.LoadsAsync(ct));
            var existing = await tenants.FindAsync(tenantRequest.Name, ct);
            return Response(decision, existing is null
                ? decision.Summary
                : $"tenant {existing.Name} exists already (on {existing.HostName}): {verb} with its arguments changes nothing, other arguments are refused; "
                  + $"for a new tenant this placement holds: {decision.Summary}");
        }

        var result = await tenants.CreateAsync(Identifiers.New("n"), tenantRequest, Place, now, ct);
        switch (result.Outcome)
        {
            case TenantCreation.Created:
            {
                var tenant = result.Tenant!;
                LogTenantCreated(logger, tenant.Name, tenant.HostId, result.Generation, ApiTokenInterceptor.CallerOf(context).Actor);
                await TellHostAsync(tenant.HostId, result.Generation);
                var response = Response(result.Placement!, tenant.CloneOf is { } copied
                    ? $"clone of {copied} on {tenant.HostName}{(tenant.Neutralize ? ", neutralized" : ", NOT neutralized (it sends mail and runs crons like the source)")}; {result.Placement!.Summary}"
                    : result.Placement!.Summary);
                response.Tenant = tenant.ToProto();
                response.Created = true;
                response.Generation = result.Generation;
                return response;
            }

            case TenantCreation.AlreadyExists:
            {
                // Resumable: a create repeated after a lost message or a controller restart tells the host again.
                var tenant = result.Tenant!;
                if (fleet.FirstOrDefault(h => h.Id == tenant.HostId) is { } host && host.AppliedGeneration < result.Generation)
                {
                    await TellHostAsync(tenant.HostId, result.Generation);
                }

                return new CreateTenantResponse
                {
                    Tenant = tenant.ToProto(),
                    Created = false,
                    Generation = result.Generation,
                    ChosenHost = tenant.HostName,
                    Summary = $"tenant {tenant.Name} exists already with these arguments on {tenant.HostName}: nothing changed",
                };
            }

            case TenantCreation.NameTaken:
            {
                var t = result.Tenant!;
                throw new RpcException(new Status(StatusCode.AlreadyExists,
                    $"name: tenant '{t.Name}' exists already with other arguments ({t.Plan} on {t.HostName}, primary domain {t.PrimaryDomain}); "
                    + $"the same arguments again change nothing; pick another name, or see it with `fleet tenant show {t.Name}`"));
            }

            case TenantCreation.DomainTaken:
                throw new RpcException(new Status(StatusCode.AlreadyExists,
                    $"domain: {result.Detail} already serves another tenant, and a domain serves one tenant only; use another domain"));

            case TenantCreation.SourceNotFound:
                throw new RpcException(new Status(StatusCode.NotFound, $"source: tenant '{result.Detail}' not found (deleted meanwhile?); see `fleet tenant list`"));

            case TenantCreation.SourceNotReady:
                throw SourceNotReady(tenantRequest.CloneOf ?? "", result.Detail);

            default:
                throw new RpcException(new Status(StatusCode.ResourceExhausted,
                    $"placement: {result.Detail}; see why for each host with `fleet tenant {verb} {tenantRequest.CloneOf ?? tenantRequest.Name} ... --dry-run`"
                    + (tenantRequest.CloneOf is not null ? " (a clone goes only on its source's host: make room there, or clone a tenant on a host with room)" : "")));
        }
    }

    private static RpcException SourceNotReady(string source, string why) =>
        new(new Status(StatusCode.FailedPrecondition,
            $"source: {why}, and only an active or suspended tenant can be cloned; wait until it is active (fleet tenant show {source})"));

    public override async Task<ListTenantsResponse> ListTenants(ListTenantsRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        if (request.Limit is < 0 or > TenantStore.MaxListLimit)
        {
            throw Invalid($"limit: must be between 1 and {TenantStore.MaxListLimit}, or 0 for {DefaultTenantLimit} (e.g. --limit 5000)");
        }

        if (TenantRules.CheckSearch(request.Search) is { } searchError)
        {
            throw Invalid(searchError);
        }

        if (!Enum.IsDefined(request.State))
        {
            throw Invalid("state: unknown; use creating, active, suspended or deleting");
        }

        var hostId = request.Host.Length == 0 ? null : (await FindHostAsync(request.Host, ct)).Id;
        var limit = request.Limit == 0 ? DefaultTenantLimit : request.Limit;
        var found = await tenants.ListAsync(new TenantFilter(hostId, request.State.ToDomain(), request.Search, limit), ct);
        var response = new ListTenantsResponse { Truncated = found.Count > limit };
        response.Tenants.AddRange(found.Take(limit).Select(t => t.ToProto()));
        return response;
    }

    public override async Task<Tenant> GetTenant(GetTenantRequest request, ServerCallContext context)
    {
        if (!Validation.IsHostName(request.Name))
        {
            throw Invalid($"name: '{Printable(request.Name)}' is not a tenant name or id (lowercase letters, digits and inner hyphens); list them with `fleet tenant list`");
        }

        var tenant = await tenants.FindAsync(request.Name, context.CancellationToken)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"tenant '{request.Name}' not found; search with `fleet tenant list --search {request.Name}`"));
        return (tenant with { Move = await moves.LatestForTenantAsync(tenant.Id, context.CancellationToken) }).ToProto();
    }

    public override Task<TenantActionResponse> SuspendTenant(TenantActionRequest request, ServerCallContext context) =>
        ChangeTenantAsync(request, TenantDesiredState.Suspended, context);

    public override Task<TenantActionResponse> ResumeTenant(TenantActionRequest request, ServerCallContext context) =>
        ChangeTenantAsync(request, TenantDesiredState.Active, context);

    public override Task<TenantActionResponse> DeleteTenant(TenantActionRequest request, ServerCallContext context)
    {
        if (!request.Confirm)
        {
            throw Invalid($"confirm: deleting tenant '{Printable(request.Name)}' drops its database and filestore (a final backup is kept on its host); "
                + "confirm it (fleet tenant delete NAME --yes)");
        }

        return ChangeTenantAsync(request, TenantDesiredState.Absent, context);
    }

    /// <summary>
    /// Suspend, resume and delete: the desired state is persisted with a new generation of the host's
    /// spec, then the host is told (level-based, as for creation). The same call again changes nothing
    /// and tells the host again while it has not applied that generation (a lost message, a restart).
    /// </summary>
    private async Task<TenantActionResponse> ChangeTenantAsync(TenantActionRequest request, TenantDesiredState desired, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        if (!Validation.IsHostName(request.Name))
        {
            throw Invalid($"name: '{Printable(request.Name)}' is not a tenant name or id (lowercase letters, digits and inner hyphens); list them with `fleet tenant list`");
        }

        var verb = desired switch
        {
            TenantDesiredState.Suspended => "suspend",
            TenantDesiredState.Active => "resume",
            _ => "delete",
        };
        var result = await tenants.SetDesiredStateAsync(request.Name, desired, time.GetUtcNow(), ct);
        var tenant = result.Tenant;
        switch (result.Outcome)
        {
            case TenantChange.NotFound:
                throw new RpcException(new Status(StatusCode.NotFound, $"tenant '{request.Name}' not found; search with `fleet tenant list --search {request.Name}`"));

            case TenantChange.NotNow:
                throw new RpcException(new Status(StatusCode.FailedPrecondition,
                    $"state: tenant {tenant!.Name} is {TenantStore.StateText(tenant.State)}, and only an active or suspended tenant can be {verb}d; "
                    + (tenant.State == Domain.TenantState.Creating
                        ? $"wait until it is active (fleet tenant show {tenant.Name}), or delete it (fleet tenant delete {tenant.Name} --yes)"
                        : $"it is being deleted; see `fleet tenant show {tenant.Name}`")));

            case TenantChange.Moving:
                throw new RpcException(new Status(StatusCode.FailedPrecondition,
                    $"state: tenant {tenant!.Name} is being moved, and a tenant takes one operation at a time; wait until the move is done or rolled back "
                    + $"(fleet tenant show {tenant.Name}), then {verb} it"));

            case TenantChange.Changed:
                LogTenantChanged(logger, tenant!.Name, verb, tenant.HostId, result.Generation, ApiTokenInterceptor.CallerOf(context).Actor);
                await TellHostAsync(tenant.HostId, result.Generation);
                return new TenantActionResponse
                {
                    Tenant = tenant.ToProto(),
                    Changed = true,
                    Generation = result.Generation,
                    Summary = desired switch
                    {
                        TenantDesiredState.Suspended => $"{tenant.Name}: suspending on {tenant.HostName} (desired generation {result.Generation}): its site will answer 503 with a maintenance page; database and filestore are kept",
                        TenantDesiredState.Active => $"{tenant.Name}: resuming on {tenant.HostName} (desired generation {result.Generation}): its site will proxy to Odoo again",
                        _ => $"{tenant.Name}: deleting on {tenant.HostName} (desired generation {result.Generation}): the host archives it (final backup), then removes its site, certificate, database and filestore; "
                            + "the tenant and its domains go once the host reports that",
                    },
                };

            default:
            {
                if ((await hosts.FindAsync(tenant!.HostId, ct)) is { } host && host.AppliedGeneration < result.Generation)
                {
                    await TellHostAsync(tenant.HostId, result.Generation);
                }

                var already = desired switch
                {
                    TenantDesiredState.Suspended => tenant.State == Domain.TenantState.Suspended ? "is suspended already" : "is being suspended already",
                    TenantDesiredState.Active => tenant.State == Domain.TenantState.Active ? "is active already (not suspended)" : tenant.State == Domain.TenantState.Creating ? "is being created (not suspended)" : "is being resumed already",
                    _ => "is being deleted already",
                };
                return new TenantActionResponse
                {
                    Tenant = tenant.ToProto(),
                    Changed = false,
                    Generation = result.Generation,
                    Summary = $"{tenant.Name} {already}: nothing changed",
                };
            }
        }
    }

    /// <summary>The host's tenants and how many more small ones fit (what `fleet hosts` shows).</summary>
    private Host WithTenants(Host proto, HostRecord host, IReadOnlyDictionary<string, TenantLoad> loads, DateTimeOffset now)
    {
        var placed = PlacementHost.From(host, loads.GetValueOrDefault(host.Id, TenantLoad.None), now, OfflineAfter);
        proto.Tenants = placed.Load.Tenants;
        proto.TenantRoom = TenantPlacement.Room(placed, TenantPlan.Small, PlacementPolicy.Default) ?? -1;
        return proto;
    }

    private static CreateTenantResponse Response(PlacementDecision decision, string summary)
    {
        var response = new CreateTenantResponse { Summary = summary, ChosenHost = decision.Chosen?.Name ?? "" };
        response.Placement.AddRange(decision.Verdicts.Select(v => v.ToProto()));
        return response;
    }

    /// <summary>The tenant is persisted; telling the host is level-based (its heartbeat ack carries the desired generation too).</summary>
    private async Task TellHostAsync(string hostId, long generation)
    {
        try
        {
            await grains.GetGrain<IHostGrain>(hostId).ResendConverge();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogTenantConvergeNotSent(logger, hostId, generation, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Tenant {Tenant} placed on host {HostId} by {Actor}: desired generation {Generation}")]
    private static partial void LogTenantCreated(ILogger logger, string tenant, string hostId, long generation, string actor);

    [LoggerMessage(Level = LogLevel.Information, Message = "Tenant {Tenant}: {Action} requested by {Actor}; host {HostId} desired generation {Generation}")]
    private static partial void LogTenantChanged(ILogger logger, string tenant, string action, string hostId, long generation, string actor);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Converge for host {HostId} generation {Generation} not sent now ({Error}); the heartbeat carries it")]
    private static partial void LogTenantConvergeNotSent(ILogger logger, string hostId, long generation, string error);
}
