using Google.Protobuf.WellKnownTypes;
using OdooFleet.Agent.Drift;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Facts;
using OdooFleet.Agent.Metrics;
using Proto = OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Transport;

/// <summary>The one place where the wire types (fleet.v1) meet the agent's domain types.</summary>
internal static class ProtoMapping
{
    public const int DefaultHttpPort = 8069;
    public const int DefaultGeventPort = 8072;

    public static DesiredHost ToDomain(this Proto.HostSpec spec)
    {
        var odoo = spec.Odoo ?? new Proto.OdooSpec();
        var release = odoo.Release is { } r && (r.Series.Length > 0 || r.Commit.Length > 0) ? new ReleaseRef(r.Series, r.Commit) : null;
        var pg = spec.Postgres ?? new Proto.PostgresSpec();
        var web = spec.Web ?? new Proto.WebSpec();
        var security = spec.Security ?? new Proto.SecuritySpec();
        var securityDefaults = SecurityDesired.Default;
        return new DesiredHost(
            spec.HostId,
            spec.Generation,
            new OdooDesired(
                release,
                odoo.SourceUrl,
                odoo.HttpPort == 0 ? DefaultHttpPort : odoo.HttpPort,
                odoo.GeventPort == 0 ? DefaultGeventPort : odoo.GeventPort)
            {
                Workers = odoo.Workers == 0 ? null : odoo.Workers,
                MaxCronThreads = odoo.MaxCronThreads == 0 ? null : odoo.MaxCronThreads,
                Options = new Dictionary<string, string>(odoo.Options, StringComparer.Ordinal),
                LogLevel = odoo.LogLevel.Length == 0 ? "info" : odoo.LogLevel,
                DbFilter = odoo.Dbfilter.Length == 0 ? "^%d$" : odoo.Dbfilter,
                AdminPasswdHash = odoo.AdminPasswdHash.Length == 0 ? null : odoo.AdminPasswdHash,
                Wheelhouse = odoo.Wheelhouse.Length == 0 ? null : odoo.Wheelhouse,
                Artifact = ToDomain(odoo.Artifact),
                Gate = ToDomain(odoo.Gate),
            })
        {
            Postgres = pg.Remote
                ? new PostgresDesired(
                    true, pg.Host, pg.Port == 0 ? 5432 : pg.Port, pg.User.Length == 0 ? "odoo" : pg.User,
                    pg.Password.Length == 0 ? null : pg.Password, pg.Sslmode.Length == 0 ? "require" : pg.Sslmode)
                : PostgresDesired.Local with { Settings = new Dictionary<string, string>(pg.Settings, StringComparer.Ordinal) },
            Web = new WebDesired(
                [.. web.Domains],
                web.Tls == Proto.TlsMode.Acme ? TlsMode.Acme : TlsMode.SelfSigned,
                web.AcmeEmail.Length == 0 ? null : web.AcmeEmail,
                web.DatabaseManager),
            Security = new SecurityDesired(
                security.LoginMaxRetry == 0 ? securityDefaults.LoginMaxRetry : security.LoginMaxRetry,
                security.LoginFindTimeSeconds == 0 ? securityDefaults.LoginFindTime : TimeSpan.FromSeconds(security.LoginFindTimeSeconds),
                security.LoginBanSeconds == 0 ? securityDefaults.LoginBanTime : TimeSpan.FromSeconds(security.LoginBanSeconds),
                !security.UnattendedUpgradesOff),
            Tenants =
            [
                .. spec.Tenants.Select(t => new TenantDesired(
                    t.Name, t.Database, t.PrimaryDomain, [.. t.Aliases], t.Modules.Count == 0 ? ["base"] : [.. t.Modules])
                {
                    State = t.State switch
                    {
                        Proto.TenantSpecState.Active => TenantDesiredState.Active,
                        Proto.TenantSpecState.Suspended => TenantDesiredState.Suspended,
                        Proto.TenantSpecState.Absent => TenantDesiredState.Absent,
                        _ => throw new Profiles.SpecValidationException([$"tenants.{Grammar.Printable(t.Name)}.state: {(int)t.State} is not a tenant state this agent knows (active, suspended, absent); upgrade the agent"]),
                    },
                    Lang = t.Lang.Length == 0 ? null : t.Lang,
                    Country = t.Country.Length == 0 ? null : t.Country,
                    CloneOf = t.CloneOf.Length == 0 ? null : t.CloneOf,
                    Neutralize = t.Neutralize,
                    MoveOut = t.MoveOut is { } moveOut ? new TenantMoveOut(moveOut.MoveId, moveOut.UploadPath) : null,
                    MoveIn = t.MoveIn is { } moveIn ? new TenantMoveIn(moveIn.MoveId, ToDomain(moveIn.Archive) ?? new ReleaseArtifactRef("", "", 0)) : null,
                }),
            ],
            TenantArchiveRetention = TimeSpan.FromDays(spec.TenantArchiveRetentionDays <= 0 ? 30 : Math.Min(spec.TenantArchiveRetentionDays, 3650)),
        };
    }

    public static ReleaseArtifactRef? ToDomain(Proto.ReleaseArtifact? artifact) =>
        artifact is null || (artifact.Path.Length == 0 && artifact.Sha256.Length == 0)
            ? null
            : new ReleaseArtifactRef(artifact.Path, artifact.Sha256, artifact.SizeBytes);

    private static ReleaseGateSpec ToDomain(Proto.ReleaseGate? gate)
    {
        var defaults = ReleaseGateSpec.Default;
        return gate is null
            ? defaults
            : new ReleaseGateSpec(
                gate.RolloutId.Length == 0 ? null : gate.RolloutId,
                gate.SkipBackup,
                gate.HealthTimeoutSeconds <= 0 ? defaults.HealthTimeout : TimeSpan.FromSeconds(gate.HealthTimeoutSeconds),
                gate.MinHealthySeconds <= 0 ? defaults.MinHealthy : TimeSpan.FromSeconds(gate.MinHealthySeconds));
    }

    /// <summary>The spec's drift policy as given (unset = all defaults); DriftPolicy.Create validates it.</summary>
    public static DriftPolicySpec ToDomain(this Proto.DriftPolicy? policy) => policy is null
        ? new DriftPolicySpec()
        : new DriftPolicySpec
        {
            DefaultMode = policy.DefaultMode == Proto.DriftMode.Unspecified ? null : ToDomain(policy.DefaultMode),
            Modes = policy.Modes.ToDictionary(m => m.Key, m => ToDomain(m.Value), StringComparer.Ordinal),
            Maintenance = [.. policy.Maintenance.Select(w => new MaintenanceWindowSpec(w.Days, w.Start, w.DurationMinutes))],
            Ignore = [.. policy.Ignore],
            PeriodicIntervalSeconds = policy.PeriodicIntervalSeconds,
        };

    // Unspecified is the contract's "default", which is correct; unknown future values are read as report (never mutate on a guess).
    private static Drift.DriftMode ToDomain(Proto.DriftMode mode) => mode switch
    {
        Proto.DriftMode.Unspecified or Proto.DriftMode.Correct => Drift.DriftMode.Correct,
        _ => Drift.DriftMode.Report,
    };

    public static Proto.OdooRelease? ToProto(this ReleaseRef? release) =>
        release is null ? null : new Proto.OdooRelease { Series = release.Series, Commit = release.Commit };

    public static Proto.HostFacts ToProto(this HostFactsInfo facts) => new()
    {
        Hostname = facts.Hostname,
        OsId = facts.OsId,
        OsVersion = facts.OsVersion,
        CpuCores = facts.CpuCores,
        MemoryBytes = facts.MemoryBytes,
        DiskTotalBytes = facts.DiskTotalBytes,
        Addresses = { facts.Addresses },
        AgentVersion = facts.AgentVersion,
        MachineId = facts.MachineId,
    };

    public static Proto.HostMetrics ToProto(this MetricsSample sample) => new()
    {
        CpuPercent = sample.CpuPercent,
        MemoryTotalBytes = sample.MemoryTotalBytes,
        MemoryAvailableBytes = sample.MemoryAvailableBytes,
        DiskTotalBytes = sample.DiskTotalBytes,
        DiskFreeBytes = sample.DiskFreeBytes,
        Load1 = sample.Load1,
        Load5 = sample.Load5,
        Load15 = sample.Load15,
    };

    public static Proto.ResourceResult ToProto(this ResourceResult result) => new()
    {
        Id = result.Id,
        Kind = result.Kind,
        Status = result.Status switch
        {
            ResourceStatus.Unchanged => Proto.ResourceStatus.Unchanged,
            ResourceStatus.Changed => Proto.ResourceStatus.Changed,
            ResourceStatus.Failed => Proto.ResourceStatus.Failed,
            ResourceStatus.Skipped => Proto.ResourceStatus.Skipped,
            _ => Proto.ResourceStatus.Unspecified,
        },
        Message = result.Message,
        DurationMs = (long)result.Duration.TotalMilliseconds,
    };

    /// <summary>Largest change detail sent in a plan: enough for any config file diff, bounded for a huge one.</summary>
    public const int MaxPlanDetailChars = 64 * 1024;

    /// <summary>A check-mode run as the answer to plan request <paramref name="requestId"/>, diffs included.</summary>
    public static Proto.PlanReport ToPlanReport(string requestId, string hostId, LocalConvergeResult result) => new()
    {
        RequestId = requestId,
        HostId = hostId,
        Generation = result.Generation,
        Success = result.Success,
        Resources =
        {
            result.Outcome.Results.Select(r =>
            {
                var proto = r.ToProto();
                proto.Detail = Truncate(r.Detail ?? "", MaxPlanDetailChars);
                return proto;
            }),
        },
        Explanation = { result.Explanation },
        Error = result.Error ?? "",
        StartedAt = Timestamp.FromDateTimeOffset(result.StartedAt),
        FinishedAt = Timestamp.FromDateTimeOffset(result.FinishedAt),
    };

    private static string Truncate(string text, int max) =>
        text.Length <= max ? text : string.Concat(text.AsSpan(0, max), $"\n… ({text.Length - max} more characters not shown)\n");

    public static Proto.ConvergeReport ToReport(
        string hostId, long generation, ConvergeOutcome outcome, DateTimeOffset started, DateTimeOffset finished, ReleaseRef? running, string? error) => new()
        {
            HostId = hostId,
            Generation = generation,
            Success = error is null && outcome.Success,
            Resources = { outcome.Results.Select(r => r.ToProto()) },
            StartedAt = Timestamp.FromDateTimeOffset(started),
            FinishedAt = Timestamp.FromDateTimeOffset(finished),
            RunningRelease = running.ToProto(),
            Error = error ?? outcome.Error ?? "",
        };

    /// <summary>A journaled release transition as the converge report carries it (modules listed only where `-u` ran).</summary>
    public static Proto.ReleaseTransition ToProto(this Release.TransitionRecord record) => new()
    {
        From = Release.TransitionRecord.ParseRelease(record.From).ToProto(),
        To = Release.TransitionRecord.ParseRelease(record.To).ToProto(),
        Outcome = record.Outcome switch
        {
            Release.TransitionOutcome.Updated => Proto.TransitionOutcome.Updated,
            Release.TransitionOutcome.Reverted => Proto.TransitionOutcome.Reverted,
            Release.TransitionOutcome.Failed => Proto.TransitionOutcome.Failed,
            _ => Proto.TransitionOutcome.Unspecified,
        },
        Phase = record.Phase,
        Reason = record.Reason ?? "",
        LogTail = record.LogTail ?? "",
        Databases =
        {
            record.Databases.Select(d => new Proto.DatabaseUpdate
            {
                Database = d.Name,
                Modules = { d.UpdateStarted ? d.Modules : [] },
                BackedUp = d.Dump is not null,
                Restored = d.Restored,
            }),
        },
        UnavailableMs = record.UnavailableMs,
        Restarts = record.Restarts,
        RolloutId = record.RolloutId ?? "",
    };

    public static Timestamp Now(TimeProvider time) => Timestamp.FromDateTimeOffset(time.GetUtcNow());
}
