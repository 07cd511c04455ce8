using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Hosting;
using OdooFleet.Controller.Messaging;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Secrets;
using OdooFleet.Controller.Security;
using HostSpec = OdooFleet.Contracts.V1.HostSpec;

namespace OdooFleet.Controller.Api;

/// <summary>AgentService: thin mapping between the wire and the stores; validation at the edge.</summary>
internal sealed partial class AgentApi(
    EnrollmentStore enrollment,
    HostStore hosts,
    HeartbeatWriter heartbeats,
    TenantStore tenants,
    TenantMoveStore moves,
    PlanStore plans,
    DriftStore drift,
    RolloutStore rollouts,
    AgentAuthenticator auth,
    AuditStore audit,
    FleetCertificateAuthority authority,
    HostCertificateStore certificates,
    AgentIdentityFactory identities,
    HostCommandPublisher commands,
    BrokerUsers brokerUsers,
    OdooAdminPasswords adminPasswords,
    IOptions<FleetOptions> fleetOptions,
    IOptions<BrokerOptions> brokerOptions,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<AgentApi> logger) : AgentService.AgentServiceBase
{
    private const int MaxTokenLength = 256;
    private const int MaxDriftEvents = 500;
    private const int MaxDriftDiff = 64 * 1024;
    private const int MaxDriftSummary = 4096;
    private const int MaxDriftResourceId = 512;

    /// <summary>Agents' clocks may run ahead a little; a timestamp further ahead is a bug or a lie.</summary>
    private static readonly TimeSpan MaxClockSkew = TimeSpan.FromMinutes(10);

    public override async Task<EnrollResponse> Enroll(EnrollRequest request, ServerCallContext context)
    {
        // The token and the new certificate must never cross the network in clear text.
        if (!context.GetHttpContext().Request.IsHttps)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition,
                "enroll over the controller's https:// agent endpoint (as `fleet token create` prints it); plain http is refused"));
        }

        if (request.Token.Length is 0 or > MaxTokenLength)
        {
            throw Invalid("token: is required (at most 256 characters); create one with `fleet token create`");
        }

        if (request.Facts is null)
        {
            throw Invalid("facts: are required; upgrade the agent");
        }

        var ct = context.CancellationToken;
        var address = context.GetHttpContext().Connection.RemoteIpAddress?.MapToIPv4().ToString() ?? "";
        var name = (request.Name.Length > 0 ? request.Name : request.Facts.Hostname).ToLowerInvariant();
        // A token bound to a host name decides the name: the host cannot enroll as another.
        if (await enrollment.FindBoundHostNameAsync(Identifiers.Hash(request.Token), ct) is { } boundName)
        {
            if (request.Name.Length > 0 && name != boundName)
            {
                await AuditEnrollRefusedAsync(name, address, $"token is bound to host name {boundName}");
                throw Denied($"token is bound to host name {boundName}; enroll with --name {boundName} or without --name");
            }

            name = boundName;
        }

        if (!Validation.IsHostName(name))
        {
            throw Invalid($"name: '{Printable(name)}' is not a valid host name (lowercase letters, digits and inner hyphens, at most 63); pass --name");
        }

        if (await enrollment.HostNameExistsAsync(name, ct))
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists, $"name: a host named '{name}' is already enrolled; pass another --name"));
        }

        var hostId = Identifiers.New("h");
        // Checked and signed before the token is spent, so a bad request leaves the token usable;
        // the certificate counts only once recorded with the host, in the enrollment's transaction.
        var certificate = Issue(hostId, request.Csr);
        // Everything the answer needs is ready before the token is spent: a failure after the
        // commit would leave an enrolled host whose agent never learnt its identity.
        var identity = await identities.CreateAsync(certificate, ct);
        var now = time.GetUtcNow();
        var record = new HostRecord(
            hostId, name, address, now, null, request.Facts.ToDomain(), null, 0, null, 0, 0, null, false, "",
            HostCommandPublisher.QueueName(hostId));

        // The queue and the host's own broker user are made after the token proved good and before
        // the host is committed, so no command is ever sent into the void and a refused caller
        // creates nothing. A failed commit takes the user away again (the next try is a new host id).
        BrokerCredentials? brokerLogin = null;
        TokenRedemption outcome;
        try
        {
            outcome = await enrollment.EnrollAsync(
                Identifiers.Hash(request.Token), record, certificate.Record, now, Json.Serialize(new { name, address }),
                async token =>
                {
                    await commands.EnsureHostQueueAsync(hostId, token);
                    brokerLogin = await brokerUsers.EnsureHostUserAsync(hostId, token);
                },
                ct);
        }
        catch when (brokerLogin is not null)
        {
            await brokerUsers.TryDeleteHostUserAsync(hostId);
            throw;
        }

        if (outcome != TokenRedemption.Redeemed)
        {
            var (reason, message) = outcome switch
            {
                TokenRedemption.Expired => ("token expired", "token: has expired; create a new one with `fleet token create`"),
                TokenRedemption.AlreadyUsed => ("token already used", "token: has already been used (tokens are single-use); create a new one with `fleet token create`"),
                TokenRedemption.Revoked => ("token revoked", "token: was revoked; ask an admin for a new one (`fleet token create`)"),
                TokenRedemption.BoundToOtherName => ("token bound to another host name", "token: is bound to another host name; see `fleet token list`"),
                _ => ("unknown token", "token: is not valid; create one with `fleet token create`"),
            };
            LogEnrollRefused(logger, name, address, reason);
            await AuditEnrollRefusedAsync(name, address, reason);
            throw Denied(message);
        }

        LogEnrolled(logger, hostId, name, address);
        var broker = brokerOptions.Value;
        return new EnrollResponse
        {
            HostId = hostId,
            Name = name,
            Identity = identity,
            Broker = new BrokerConnection
            {
                Host = broker.AgentHost ?? broker.Host,
                Port = broker.Port,
                VirtualHost = broker.VirtualHost,
                Username = brokerLogin!.Username,
                Password = brokerLogin.Password,
                Queue = record.Queue,
            },
            ControllerUrls = { fleetOptions.Value.AgentEndpoints },
        };
    }

    public override async Task<RenewCertificateResponse> RenewCertificate(RenewCertificateRequest request, ServerCallContext context)
    {
        var hostId = await auth.AuthenticateAsync(context);
        var certificate = Issue(hostId, request.Csr);
        // The current certificate stays valid until it expires: an agent that dies before saving
        // the new one still gets in and renews again.
        if (!await certificates.RecordAsync(hostId, certificate.Record, context.CancellationToken))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "host was removed from the fleet; re-enroll the host with a new token"));
        }

        await auth.RecordAsync(context, hostId, "ok");
        LogRenewed(logger, hostId, certificate.Record.Serial, certificate.Record.NotAfter.UtcDateTime);
        return new RenewCertificateResponse { Identity = await identities.CreateAsync(certificate, context.CancellationToken) };
    }

    public override async Task Connect(IAsyncStreamReader<AgentMessage> requestStream, IServerStreamWriter<ControllerMessage> responseStream, ServerCallContext context)
    {
        var hostId = await auth.AuthenticateAsync(context);
        var address = context.GetHttpContext().Connection.RemoteIpAddress?.MapToIPv4().ToString();
        var interval = fleetOptions.Value.HeartbeatIntervalSeconds;
        LogConnected(logger, hostId, address ?? "?");
        // The stream ends when the controller stops, so shutdown never waits on agents; they reconnect elsewhere.
        using var streamEnd = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        var ct = streamEnd.Token;
        try
        {
            await foreach (var message in requestStream.ReadAllAsync(ct))
            {
                if (message.KindCase != AgentMessage.KindOneofCase.Heartbeat)
                {
                    continue;
                }

                var heartbeat = message.Heartbeat;
                var desired = await heartbeats.RecordAsync(
                    new HeartbeatRecord(hostId, time.GetUtcNow(), heartbeat.Metrics?.ToDomain(), heartbeat.Facts?.ToDomain(), address), ct)
                    ?? throw new RpcException(new Status(StatusCode.Unauthenticated, "host was removed from the fleet"));
                await responseStream.WriteAsync(new ControllerMessage
                {
                    HeartbeatAck = new HeartbeatAck
                    {
                        ReceivedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
                        DesiredGeneration = desired,
                        HeartbeatIntervalSeconds = interval,
                    },
                }, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The agent went away or the controller is stopping: the agent reconnects.
        }

        LogDisconnected(logger, hostId);
    }

    public override async Task<HostSpec> GetHostSpec(GetHostSpecRequest request, ServerCallContext context)
    {
        var hostId = await auth.AuthenticateAsync(context);
        if (request.HostId.Length > 0 && request.HostId != hostId)
        {
            throw await auth.RefuseForeignHostAsync(context, hostId, Printable(request.HostId), "host_id: a host may only fetch its own spec");
        }

        var (host, hasTenants, hasMoves) = await hosts.FindForSpecAsync(hostId, context.CancellationToken)
            ?? throw new RpcException(new Status(StatusCode.Unauthenticated, "host was removed from the fleet"));
        var placed = hasTenants ? await tenants.ForHostAsync(host.Id, context.CancellationToken) : [];
        var o = fleetOptions.Value;
        return new Domain.HostSpec(host.Id, host.DesiredGeneration, host.DesiredRelease, o.SourceUrl, o.OdooHttpPort, o.OdooGeventPort)
        {
            Profile = ProfileRules.WithDefaults(host.Profile, o.ProfileDefaults),
            Wheelhouse = string.IsNullOrEmpty(o.Wheelhouse) ? null : o.Wheelhouse,
            AdminPasswdHash = await adminPasswords.HashAsync(host.Id, context.CancellationToken),
            Artifact = host.DesiredArtifact,
            Gate = host.DesiredGate,
            Tenants = hasMoves ? await moves.ApplyToSpecAsync(host.Id, placed, context.CancellationToken) : placed,
            TenantArchiveRetentionDays = o.TenantArchiveRetentionDays,
        }.ToProto();
    }

    public override async Task<ReportRejectedCommandResponse> ReportRejectedCommand(RejectedCommand request, ServerCallContext context)
    {
        var hostId = await auth.AuthenticateAsync(context);
        if (request.HostId != hostId)
        {
            throw await auth.RefuseForeignHostAsync(context, hostId, Printable(request.HostId), "host_id: a host may only report for itself");
        }

        if (request.MessageId.Length > 256 || request.CommandId.Length > 256 || request.Reason.Length > 4096)
        {
            throw Invalid("rejected command: too large (message_id and command_id at most 256 characters, reason at most 4 KiB)");
        }

        // What the host refused stays on record even though nothing reached it: a forged or replayed
        // command on a host's queue means someone holds broker credentials they should not.
        var target = Printable(request.MessageId.Length > 0 ? request.MessageId : request.CommandId);
        var address = context.GetHttpContext().Connection.RemoteIpAddress?.ToString() ?? "";
        await audit.AppendAsync(
            new AuditRecord(time.GetUtcNow(), $"agent:{hostId}", "", "HostCommandRejected", target, $"denied: {Printable(request.Reason, 400)}", address,
                Json.Serialize(new { messageId = Printable(request.MessageId), commandId = Printable(request.CommandId) })),
            context.CancellationToken);
        LogCommandRejected(logger, hostId, target, Printable(request.Reason, 400));
        return new ReportRejectedCommandResponse();
    }

    public override async Task<ReportPlanResponse> ReportPlan(Contracts.V1.PlanReport request, ServerCallContext context)
    {
        var hostId = await auth.AuthenticateAsync(context);
        if (request.HostId != hostId)
        {
            throw await auth.RefuseForeignHostAsync(context, hostId, Printable(request.HostId), "host_id: a host may only report for itself");
        }

        if (!Validation.IsId(request.RequestId, 'p'))
        {
            throw Invalid($"request_id: '{Printable(request.RequestId)}' is not a plan request id (like p-3kq9t2mzpa); answer the id of the PlanCommand");
        }

        if (request.Generation < 0)
        {
            throw Invalid("generation: must not be negative");
        }

        if (request.Resources.Count > 10_000 || request.Error.Length > 64 * 1024 || request.Explanation.Count > 1000
            || request.Explanation.Any(line => line.Length > 4096) || request.Resources.Any(r => r.Detail.Length > 256 * 1024 || r.Message.Length > 64 * 1024))
        {
            throw Invalid("report: too large (at most 10000 resources, 256 KiB of detail and 64 KiB of message each, 1000 explanation lines of 4 KiB, 64 KiB of error)");
        }

        var accepted = await plans.RecordAsync(request.ToDomain(), time.GetUtcNow(), context.CancellationToken);
        LogPlanReport(logger, hostId, request.RequestId, request.Generation, request.Success, accepted);
        return new ReportPlanResponse { Accepted = accepted };
    }

    public override async Task<ReportConvergeResponse> ReportConverge(Contracts.V1.ConvergeReport request, ServerCallContext context)
    {
        var hostId = await auth.AuthenticateAsync(context);
        if (request.HostId != hostId)
        {
            throw await auth.RefuseForeignHostAsync(context, hostId, Printable(request.HostId), "host_id: a host may only report for itself");
        }

        if (request.Generation < 0)
        {
            throw Invalid("generation: must not be negative");
        }

        if (request.Resources.Count > 10_000 || request.Error.Length > 64 * 1024)
        {
            throw Invalid("report: too large (at most 10000 resources and 64 KiB of error text)");
        }

        var report = request.ToDomain();
        if (report.RunningRelease is { } running && (!Validation.IsSeries(running.Series) || !Validation.IsCommit(running.Commit)))
        {
            throw Invalid("running_release: series must look like 18.0 and commit must be 40 lowercase hex digits");
        }

        if (request.Transition is { } transition)
        {
            CheckTransition(transition);
        }

        var (accepted, hasTenants, hasMoves) = await hosts.RecordReportAsync(
            report,
            report.Success ? "HostConverged" : "HostConvergeFailed",
            Json.Serialize(new { report.Generation, report.Success, report.Error, release = report.RunningRelease?.ToString() }),
            time.GetUtcNow(),
            context.CancellationToken);
        LogReport(logger, hostId, report.Generation, report.Success, accepted);
        // Without a running release the host has no Odoo yet to create tenant databases with.
        if (accepted && hasTenants && report.Success && report.RunningRelease is not null)
        {
            foreach (var name in await tenants.MarkCreatedAsync(hostId, report.Generation, time.GetUtcNow(), context.CancellationToken))
            {
                LogTenantActive(logger, name, hostId, report.Generation);
            }
        }

        // Suspension, resumption and deletion need no release: a deleted tenant's archive and removal
        // ran in this converge (before its report), and only now are its rows and domains freed.
        if (accepted && hasTenants && report.Success)
        {
            foreach (var (name, outcome) in await tenants.ApplyConvergedAsync(hostId, report.Generation, time.GetUtcNow(), context.CancellationToken))
            {
                LogTenantStateConfirmed(logger, name, outcome, hostId, report.Generation);
            }
        }

        // Moves advance on the facts of every report, accepted or a repeat: a controller that died
        // after recording a report but before this left the move where the repeat finds it. An
        // accepted report says whether the host is in an open move (a move's start bumps the host's
        // generation in its transaction, so a report that can advance it sees the move row).
        var movesToApply = !accepted || hasMoves;
        foreach (var step in movesToApply
            ? await moves.ApplyReportAsync(hostId, report.Generation, report.Success, report.RunningRelease is not null, report.Error, time.GetUtcNow(), context.CancellationToken)
            : [])
        {
            var move = step.Move;
            LogTenantMove(logger, move.TenantName, move.Id, TenantMoveRules.StepText(move.Step), hostId, report.Generation, move.Error);
            foreach (var (tell, generation) in step.Tell)
            {
                await commands.TrySendConvergeAsync(tell, generation, CancellationToken.None);
            }
        }

        return new ReportConvergeResponse { Accepted = accepted };
    }

    public override async Task<ReportStageResponse> ReportStage(StageReport request, ServerCallContext context)
    {
        var hostId = await auth.AuthenticateAsync(context);
        if (request.HostId != hostId)
        {
            throw await auth.RefuseForeignHostAsync(context, hostId, Printable(request.HostId), "host_id: a host may only report for itself");
        }

        if (request.Release is not { } release || !Validation.IsSeries(release.Series) || !Validation.IsCommit(release.Commit))
        {
            throw Invalid("release: series must look like 18.0 and commit must be 40 lowercase hex digits (echo the StageReleaseCommand's release)");
        }

        if (request.Error.Length > MaxDriftSummary || request.CommandId.Length > 256)
        {
            throw Invalid("stage report: too large (error at most 4 KiB, command_id at most 256 characters)");
        }

        // A failed prefetch changes nothing: the host's converge stages the release itself.
        var accepted = request.Success && await rollouts.MarkStagedAsync(hostId, release.ToDomain()!, context.CancellationToken);
        LogStageReport(logger, hostId, $"{release.Series}@{release.Commit}", request.Success, request.DurationMs, Printable(request.Error, 400));
        return new ReportStageResponse { Accepted = accepted };
    }

    public override async Task<ReportTenantSizesResponse> ReportTenantSizes(TenantSizeReport request, ServerCallContext context)
    {
        var hostId = await auth.AuthenticateAsync(context);
        if (request.HostId != hostId)
        {
            throw await auth.RefuseForeignHostAsync(context, hostId, Printable(request.HostId), "host_id: a host may only report for itself");
        }

        var now = time.GetUtcNow();
        CheckTime(request.MeasuredAt, "measured_at", now, required: true);
        if (request.Tenants.Count > TenantSizeRecord.MaxPerReport)
        {
            throw Invalid($"tenants: {request.Tenants.Count} in one report, at most {TenantSizeRecord.MaxPerReport}");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < request.Tenants.Count; i++)
        {
            var t = request.Tenants[i];
            if (!TenantRules.IsDatabaseName(t.Name))
            {
                throw Invalid($"tenants[{i}].name: '{Printable(t.Name)}' is not a tenant name (2-30 lowercase letters, digits and inner hyphens); report the names of the spec's tenants");
            }

            if (!seen.Add(t.Name))
            {
                throw Invalid($"tenants[{i}].name: {t.Name} is reported twice; report each tenant once");
            }

            foreach (var (bytes, field) in new[] { (t.DatabaseBytes, "database_bytes"), (t.FilestoreBytes, "filestore_bytes") })
            {
                if (bytes is < 0 or > TenantSizeRecord.MaxBytes)
                {
                    throw Invalid($"tenants[{i}] ({t.Name}).{field}: {bytes} is out of range; must be 0-{TenantSizeRecord.MaxBytes} (1 PiB)");
                }
            }
        }

        var outcome = await tenants.RecordSizesAsync(hostId, request.MeasuredAt.ToDateTimeOffset(), [.. request.Tenants.Select(t => t.ToDomain())], context.CancellationToken);
        if (outcome.Foreign.Count > 0)
        {
            throw await auth.RefuseForeignHostAsync(
                context, hostId, $"tenant {outcome.Foreign[0]}", $"tenants: {string.Join(", ", outcome.Foreign.Take(5))} are placed on another host; a host may only report its own tenants",
                "tenant sizes name another host's tenant");
        }

        LogTenantSizes(logger, hostId, request.Tenants.Count, outcome.Recorded, outcome.Unknown.Count);
        return new ReportTenantSizesResponse { Recorded = outcome.Recorded, Unknown = { outcome.Unknown } };
    }

    /// <summary>The transition is stored for the rollout: bounded text, a known outcome, well-formed releases.</summary>
    private static void CheckTransition(ReleaseTransition t)
    {
        if (!System.Enum.IsDefined(t.Outcome))
        {
            throw Invalid($"transition.outcome: {(int)t.Outcome} is not a transition outcome; use UPDATED, REVERTED or FAILED");
        }

        foreach (var (release, field) in new[] { (t.From, "transition.from"), (t.To, "transition.to") })
        {
            if (release is not null && (release.Series.Length > 0 || release.Commit.Length > 0)
                && (!Validation.IsSeries(release.Series) || !Validation.IsCommit(release.Commit)))
            {
                throw Invalid($"{field}: series must look like 18.0 and commit must be 40 lowercase hex digits");
            }
        }

        if (t.Phase.Length > 32 || t.RolloutId.Length > 64 || t.Reason.Length > MaxDriftSummary || t.LogTail.Length > MaxDriftDiff
            || t.Databases.Count > 10_000 || t.Databases.Sum(d => d.Modules.Count) > 100_000)
        {
            throw Invalid("transition: too large (phase at most 32 characters, rollout_id 64, reason 4 KiB, log_tail 64 KiB, 10000 databases, 100000 modules)");
        }
    }

    public override async Task<ReportDriftResponse> ReportDrift(DriftReport request, ServerCallContext context)
    {
        var hostId = await auth.AuthenticateAsync(context);
        if (request.HostId != hostId)
        {
            throw await auth.RefuseForeignHostAsync(context, hostId, Printable(request.HostId), "host_id: a host may only report for itself");
        }

        if (request.Events.Count > MaxDriftEvents)
        {
            throw Invalid($"events: {request.Events.Count} in one report, at most {MaxDriftEvents}; send the rest in further reports");
        }

        var now = time.GetUtcNow();
        var events = new List<DriftEventRecord>(request.Events.Count);
        for (var i = 0; i < request.Events.Count; i++)
        {
            events.Add(CheckDriftEvent(request.Events[i], $"events[{i}]", now));
        }

        var recorded = await drift.RecordAsync(hostId, events, now, context.CancellationToken)
            ?? throw new RpcException(new Status(StatusCode.Unauthenticated, "host was removed from the fleet"));
        LogDriftReport(logger, hostId, events.Count, recorded.Inserted.Count);
        return new ReportDriftResponse { AcknowledgedIds = { recorded.Stored } };
    }

    /// <summary>Every field bounded and of its grammar before anything is stored; errors name the event and the field.</summary>
    private static DriftEventRecord CheckDriftEvent(DriftEvent e, string field, DateTimeOffset now)
    {
        if (!DriftRules.IsEventId(e.Id))
        {
            throw Invalid($"{field}.id: '{Printable(e.Id)}' must be 1-64 characters of A-Z, a-z, 0-9, _ and -");
        }

        field = $"{field} ({e.Id})";
        SingleLine(e.ResourceId, $"{field}.resource_id", 1, MaxDriftResourceId);
        SingleLine(e.Kind, $"{field}.kind", 1, 64);
        SingleLine(e.Expected, $"{field}.expected", 0, MaxDriftSummary);
        SingleLine(e.Actual, $"{field}.actual", 0, MaxDriftSummary);
        SingleLine(e.Trigger, $"{field}.trigger", 1, 32);
        if (e.Diff.Length > MaxDriftDiff)
        {
            throw Invalid($"{field}.diff: {e.Diff.Length} characters, at most {MaxDriftDiff}; cut the diff (the agent bounds it)");
        }

        if (e.Error.Length > MaxDriftSummary)
        {
            throw Invalid($"{field}.error: {e.Error.Length} characters, at most {MaxDriftSummary}");
        }

        if (e.Generation < 0)
        {
            throw Invalid($"{field}.generation: must not be negative");
        }

        if (e.Action is DriftAction.Unspecified || !System.Enum.IsDefined(e.Action))
        {
            throw Invalid($"{field}.action: {(int)e.Action} is not a drift action; use CORRECTED, REPORTED, SUPPRESSED, FLAPPING or FAILED");
        }

        CheckTime(e.DetectedAt, $"{field}.detected_at", now, required: true);
        CheckTime(e.CorrectedAt, $"{field}.corrected_at", now, required: false);
        if (DriftAcceptance.CheckProposal([.. e.Accept.Select(p => new DriftPatch(p.Path, p.Value))], $"{field}.accept") is { } acceptError)
        {
            throw Invalid(acceptError);
        }

        return e.ToDomain();
    }

    private static void SingleLine(string value, string field, int min, int max)
    {
        if (value.Length < min || value.Length > max)
        {
            throw Invalid($"{field}: {value.Length} characters; must be {min}-{max}");
        }

        if (value.Any(UntrustedText.IsLineBreakOrControl))
        {
            throw Invalid($"{field}: '{Printable(value)}' must be one line without control characters");
        }
    }

    private static void CheckTime(Timestamp? value, string field, DateTimeOffset now, bool required)
    {
        if (value is null)
        {
            if (required)
            {
                throw Invalid($"{field}: is required");
            }

            return;
        }

        // Timestamp's own range (years 1-9999, nanos 0-999999999); anything else is not a time.
        if (value.Seconds is < -62135596800 or > 253402300799 || value.Nanos is < 0 or > 999_999_999)
        {
            throw Invalid($"{field}: is not a valid timestamp");
        }

        if (value.ToDateTimeOffset() > now + MaxClockSkew)
        {
            throw Invalid($"{field}: {value.ToDateTimeOffset():u} is in the future (controller time {now:u}); check the host's clock");
        }
    }

    private Task AuditEnrollRefusedAsync(string name, string address, string reason) =>
        audit.AppendAsync(
            new AuditRecord(time.GetUtcNow(), Caller.AnonymousActor, "", "Enroll", Printable(name), $"denied: {reason}", address), CancellationToken.None);

    private IssuedClientCertificate Issue(string hostId, Google.Protobuf.ByteString csr)
    {
        try
        {
            return authority.IssueClientCertificate(hostId, csr.Span);
        }
        catch (CertificateRequestException e)
        {
            throw Invalid($"csr: {e.Message}");
        }
    }

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));

    private static RpcException Denied(string message) => new(new Status(StatusCode.PermissionDenied, message));

    /// <summary>Echoes untrusted input back only in a bounded, printable form.</summary>
    private static string Printable(string value, int max = 64) => UntrustedText.Printable(value, max);

    [LoggerMessage(Level = LogLevel.Information, Message = "Host {HostId} enrolled as {Name} from {Address}")]
    private static partial void LogEnrolled(ILogger logger, string hostId, string name, string address);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Enrollment of {Name} from {Address} refused: {Reason}")]
    private static partial void LogEnrollRefused(ILogger logger, string name, string address, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Host {HostId} refused a command from its queue ({Target}): {Reason}")]
    private static partial void LogCommandRejected(ILogger logger, string hostId, string target, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Host {HostId} connected from {Address}")]
    private static partial void LogConnected(ILogger logger, string hostId, string address);

    [LoggerMessage(Level = LogLevel.Information, Message = "Host {HostId} disconnected")]
    private static partial void LogDisconnected(ILogger logger, string hostId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Host {HostId} renewed its client certificate: serial {Serial}, valid until {NotAfter:u}")]
    private static partial void LogRenewed(ILogger logger, string hostId, string serial, DateTime notAfter);

    [LoggerMessage(Level = LogLevel.Information, Message = "Host {HostId} answered plan {RequestId} for generation {Generation} success={Success} (accepted={Accepted})")]
    private static partial void LogPlanReport(ILogger logger, string hostId, string requestId, long generation, bool success, bool accepted);

    [LoggerMessage(Level = LogLevel.Information, Message = "Host {HostId} staged {Release}: success={Success} in {DurationMs} ms {Error}")]
    private static partial void LogStageReport(ILogger logger, string hostId, string release, bool success, long durationMs, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Host {HostId} reported the sizes of {Count} tenant(s): {Recorded} recorded, {Unknown} unknown")]
    private static partial void LogTenantSizes(ILogger logger, string hostId, int count, int recorded, int unknown);

    [LoggerMessage(Level = LogLevel.Information, Message = "Host {HostId} reported {Count} drift event(s), {New} new")]
    private static partial void LogDriftReport(ILogger logger, string hostId, int count, int @new);

    [LoggerMessage(Level = LogLevel.Information, Message = "Host {HostId} reported generation {Generation} success={Success} (accepted={Accepted})")]
    private static partial void LogReport(ILogger logger, string hostId, long generation, bool success, bool accepted);

    [LoggerMessage(Level = LogLevel.Information, Message = "Tenant {Tenant} is {Outcome}: host {HostId} converged generation {Generation}")]
    private static partial void LogTenantStateConfirmed(ILogger logger, string tenant, string outcome, string hostId, long generation);

    [LoggerMessage(Level = LogLevel.Information, Message = "Tenant {Tenant} move {MoveId} is {Step} after host {HostId} reported generation {Generation} {Error}")]
    private static partial void LogTenantMove(ILogger logger, string tenant, string moveId, string step, string hostId, long generation, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Tenant {Tenant} is active: host {HostId} converged generation {Generation}")]
    private static partial void LogTenantActive(ILogger logger, string tenant, string hostId, long generation);
}
