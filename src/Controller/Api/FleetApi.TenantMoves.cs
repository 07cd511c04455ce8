using Grpc.Core;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Planning;
using TenantMoveStep = OdooFleet.Controller.Domain.TenantMoveStep;

namespace OdooFleet.Controller.Api;

/// <summary>FleetService: moving a tenant to another host.</summary>
internal sealed partial class FleetApi
{
    /// <summary>
    /// Checks the target (known, not the tenant's host, a release running, room for the tenant's plan
    /// by the placement function), stores the move and tells the source. The hosts' reports drive it
    /// from there (<see cref="TenantMoveStore.ApplyReportAsync"/>); the same call again tells the
    /// host the move waits for, in case a message or a controller was lost.
    /// </summary>
    public override async Task<MoveTenantResponse> MoveTenant(MoveTenantRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        if (!Validation.IsHostName(request.Name))
        {
            throw Invalid($"name: '{Printable(request.Name)}' is not a tenant name or id (lowercase letters, digits and inner hyphens); list them with `fleet tenant list`");
        }

        if (request.ToHost.Length == 0)
        {
            throw Invalid("to_host: the host to move the tenant to is required (fleet tenant move NAME --to HOST); list hosts with `fleet hosts`");
        }

        var target = await hosts.FindAsync(request.ToHost, ct)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"to_host: host '{Printable(request.ToHost)}' not found; list hosts with `fleet hosts`"));
        var tenant = await tenants.FindAsync(request.Name, ct)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"tenant '{request.Name}' not found; search with `fleet tenant list --search {request.Name}`"));
        var under = await moves.LatestForTenantAsync(tenant.Id, ct);
        if (under is not { IsOpen: true } && tenant.HostId != target.Id)
        {
            if (target.RunningRelease is null)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition,
                    $"to_host: host {target.Name} runs no Odoo release yet, so it cannot serve the tenant; roll a release out to it first (fleet rollout --version ... --selector ...)"));
            }

            var plan = TenantPlan.Find(tenant.Plan) ?? TenantPlan.Small;
            var now = time.GetUtcNow();
            var load = (await tenants.LoadsAsync(ct)).GetValueOrDefault(target.Id, TenantLoad.None);
            var decision = TenantPlacement.Place(
                new PlacementRequest(plan, target.Id, new Dictionary<string, string>()),
                [PlacementHost.From(target, load, now, OfflineAfter)],
                PlacementPolicy.Default);
            if (decision.Chosen is null)
            {
                var why = decision.Verdicts is [{ Reasons: { Count: > 0 } reasons }, ..] ? string.Join("; ", reasons) : decision.Summary;
                throw new RpcException(new Status(StatusCode.ResourceExhausted,
                    $"to_host: host {target.Name} has no room for tenant {tenant.Name} ({plan.Name}: {plan.Summary}): {why}; pick another host (`fleet hosts` shows each host's room)"));
            }
        }

        var result = await moves.StartAsync(Identifiers.New("m"), tenant.Id, target.Id, time.GetUtcNow(), ct);
        var moved = result.Tenant ?? tenant;
        switch (result.Outcome)
        {
            case TenantMoveStart.Started:
            {
                var move = result.Move!;
                LogTenantMoveStarted(logger, moved.Name, move.Id, move.SourceHostId, move.TargetHostId, ApiTokenInterceptor.CallerOf(context).Actor);
                await TellHostAsync(move.SourceHostId, move.SourceGeneration);
                return new MoveTenantResponse
                {
                    Tenant = (moved with { Move = move }).ToProto(),
                    Move = move.ToProto(),
                    Started = true,
                    Summary = $"{moved.Name}: moving from {move.SourceHostName} to {move.TargetHostName} (move {move.Id}): {move.SourceHostName} serves a maintenance page and exports it, "
                        + $"{move.TargetHostName} restores and verifies it, then it is switched and removed from {move.SourceHostName}; any failure before the switch leaves it on {move.SourceHostName}",
                };
            }

            case TenantMoveStart.AlreadyUnderWay:
            {
                var move = result.Move!;
                // Resumable: tell the host the step waits for again (a lost message, a controller restart).
                var (waitHost, waitGeneration) = move.Step == TenantMoveStep.Exporting ? (move.SourceHostId, move.SourceGeneration) : (move.TargetHostId, move.TargetGeneration);
                await TellHostAsync(waitHost, waitGeneration);
                return new MoveTenantResponse
                {
                    Tenant = (moved with { Move = move }).ToProto(),
                    Move = move.ToProto(),
                    Started = false,
                    Summary = $"{moved.Name} is being moved to {move.TargetHostName} already (move {move.Id}, {TenantMoveRules.StepText(move.Step)}): nothing changed",
                };
            }

            case TenantMoveStart.Busy:
                throw new RpcException(new Status(StatusCode.FailedPrecondition,
                    $"state: tenant {moved.Name} has a move under way (move {result.Move!.Id} to {result.Move.TargetHostName}, {TenantMoveRules.StepText(result.Move.Step)}), "
                    + $"and a tenant takes one operation at a time; wait for it (fleet tenant show {moved.Name}), then move it again"));

            case TenantMoveStart.SameHost:
                throw new RpcException(new Status(StatusCode.FailedPrecondition,
                    $"to_host: tenant {moved.Name} is on {moved.HostName} already; name another host (`fleet hosts`)"));

            case TenantMoveStart.NotActive:
                throw new RpcException(new Status(StatusCode.FailedPrecondition,
                    $"state: tenant {moved.Name} is {TenantStore.StateText(moved.State)}{(moved.PendingState is { } p ? $" (becoming {TenantStore.StateText(p)})" : "")}, "
                    + $"and only an active tenant is moved; {(moved.State == Domain.TenantState.Suspended ? $"resume it first (fleet tenant resume {moved.Name})" : $"wait until it is active (fleet tenant show {moved.Name})")}"));

            default:
                throw new RpcException(new Status(StatusCode.NotFound, $"tenant '{request.Name}' not found; search with `fleet tenant list --search {request.Name}`"));
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Tenant {Tenant} move {MoveId} from host {Source} to host {Target} requested by {Actor}")]
    private static partial void LogTenantMoveStarted(ILogger logger, string tenant, string moveId, string source, string target, string actor);
}
