using Google.Protobuf.WellKnownTypes;
using OdooFleet.Controller.Planning;
using Domain = OdooFleet.Controller.Domain;
using V1 = OdooFleet.Contracts.V1;

namespace OdooFleet.Controller.Api;

/// <summary>The one place where generated proto types meet domain types.</summary>
internal static class ProtoMapping
{
    public static Domain.HostFacts ToDomain(this V1.HostFacts f) => new(
        f.Hostname, f.OsId, f.OsVersion, f.CpuCores, f.MemoryBytes, f.DiskTotalBytes, [.. f.Addresses], f.AgentVersion, f.MachineId);

    public static Domain.HostMetrics ToDomain(this V1.HostMetrics m) => new(
        m.CpuPercent, m.MemoryTotalBytes, m.MemoryAvailableBytes, m.DiskTotalBytes, m.DiskFreeBytes, m.Load1, m.Load5, m.Load15);

    public static Domain.OdooRelease? ToDomain(this V1.OdooRelease? r) =>
        r is null || (r.Series.Length == 0 && r.Commit.Length == 0) ? null : new Domain.OdooRelease(r.Series, r.Commit);

    public static Domain.ConvergeReport ToDomain(this V1.ConvergeReport r) => new(
        r.HostId,
        r.Generation,
        r.Success,
        r.Error,
        r.RunningRelease.ToDomain(),
        [.. r.Resources.Select(x => new Domain.ResourceResult(x.Id, x.Kind, x.Status.ToDomain(), x.Message, x.DurationMs))],
        r.StartedAt?.ToDateTimeOffset() ?? DateTimeOffset.MinValue,
        r.FinishedAt?.ToDateTimeOffset() ?? DateTimeOffset.MinValue)
    {
        Transition = r.Transition?.ToDomain(),
    };

    public static Domain.ReleaseTransitionRecord ToDomain(this V1.ReleaseTransition t) => new(
        t.From.ToDomain(),
        t.To.ToDomain(),
        t.Outcome switch
        {
            V1.TransitionOutcome.Updated => Domain.TransitionOutcome.Updated,
            V1.TransitionOutcome.Reverted => Domain.TransitionOutcome.Reverted,
            V1.TransitionOutcome.Failed => Domain.TransitionOutcome.Failed,
            _ => Domain.TransitionOutcome.Unspecified,
        },
        t.Phase,
        t.Reason,
        t.LogTail,
        t.UnavailableMs,
        t.Restarts,
        t.RolloutId,
        [.. t.Databases.SelectMany(d => d.Modules.Select(m => $"{d.Database}:{m}"))]);

    public static Domain.PlanReport ToDomain(this V1.PlanReport r) => new(
        r.RequestId,
        r.HostId,
        r.Generation,
        r.Success,
        r.Error,
        [.. r.Explanation],
        [.. r.Resources.Select(x => new Domain.ResourceResult(x.Id, x.Kind, x.Status.ToDomain(), x.Message, x.DurationMs) { Detail = x.Detail })],
        r.StartedAt?.ToDateTimeOffset() ?? DateTimeOffset.MinValue,
        r.FinishedAt?.ToDateTimeOffset() ?? DateTimeOffset.MinValue);

    /// <summary>The request as a patch: a field the caller left unset stays null (kept).</summary>
    public static Domain.ProfileChange ToDomain(this V1.ConfigureHostRequest r) => new()
    {
        Domains = r.Domains is null ? null : [.. r.Domains.Values],
        Tls = r.HasTls ? r.Tls.ToDomain() : null,
        AcmeEmail = r.HasAcmeEmail ? r.AcmeEmail : null,
        DatabaseManager = r.HasDatabaseManager ? r.DatabaseManager : null,
        Workers = r.HasWorkers ? r.Workers : null,
        MaxCronThreads = r.HasMaxCronThreads ? r.MaxCronThreads : null,
        SetOptions = r.SetOdooOptions.Count == 0 ? null : new Dictionary<string, string>(r.SetOdooOptions, StringComparer.Ordinal),
        UnsetOptions = r.UnsetOdooOptions.Count == 0 ? null : [.. r.UnsetOdooOptions],
        LogLevel = r.HasLogLevel ? r.LogLevel : null,
        PostgresRemote = r.HasPostgresRemote ? r.PostgresRemote : null,
        PostgresHost = r.HasPostgresHost ? r.PostgresHost : null,
        PostgresPort = r.HasPostgresPort ? r.PostgresPort : null,
        PostgresUser = r.HasPostgresUser ? r.PostgresUser : null,
        PostgresSslMode = r.HasPostgresSslmode ? r.PostgresSslmode : null,
        LoginMaxRetry = r.HasLoginMaxRetry ? r.LoginMaxRetry : null,
        LoginFindTimeSeconds = r.HasLoginFindTimeSeconds ? r.LoginFindTimeSeconds : null,
        LoginBanSeconds = r.HasLoginBanSeconds ? r.LoginBanSeconds : null,
        UnattendedUpgradesOff = r.HasUnattendedUpgradesOff ? r.UnattendedUpgradesOff : null,
        DriftDefaultMode = r.HasDriftDefaultMode && r.DriftDefaultMode != V1.DriftMode.Unspecified ? r.DriftDefaultMode.ToDomain() : null,
        DriftDefaultModeReset = r.HasDriftDefaultMode && r.DriftDefaultMode == V1.DriftMode.Unspecified,
        SetDriftModes = r.SetDriftModes.Count == 0 ? null : r.SetDriftModes.ToDictionary(m => m.Key, m => m.Value.ToDomain(), StringComparer.Ordinal),
        UnsetDriftModes = r.UnsetDriftModes.Count == 0 ? null : [.. r.UnsetDriftModes],
        DriftMaintenance = r.DriftMaintenance is null
            ? null
            : [.. r.DriftMaintenance.Windows.Select(w => new Domain.MaintenanceWindowSetting(w.Days, w.Start, w.DurationMinutes))],
        DriftIgnore = r.DriftIgnore is null ? null : [.. r.DriftIgnore.Values],
        DriftIntervalSeconds = r.HasDriftPeriodicIntervalSeconds ? r.DriftPeriodicIntervalSeconds : null,
    };

    /// <summary>Unknown and unspecified numbers stay out of range so validation names them (UNSPECIFIED means "reset" only for the default mode).</summary>
    private static Domain.DriftModeSetting ToDomain(this V1.DriftMode mode) => mode switch
    {
        V1.DriftMode.Correct => Domain.DriftModeSetting.Correct,
        V1.DriftMode.Report => Domain.DriftModeSetting.Report,
        _ => (Domain.DriftModeSetting)(-1),
    };

    private static V1.DriftMode ToProto(this Domain.DriftModeSetting? mode) => mode switch
    {
        Domain.DriftModeSetting.Correct => V1.DriftMode.Correct,
        Domain.DriftModeSetting.Report => V1.DriftMode.Report,
        _ => V1.DriftMode.Unspecified,
    };

    /// <summary>The policy as the agent reads it: unset values are zero/empty (the agent's defaults).</summary>
    public static V1.DriftPolicy ToProto(this Domain.DriftSettings d)
    {
        var policy = new V1.DriftPolicy
        {
            DefaultMode = d.DefaultMode.ToProto(),
            Ignore = { d.Ignore },
            PeriodicIntervalSeconds = d.PeriodicIntervalSeconds ?? 0,
        };
        foreach (var (key, mode) in d.Modes)
        {
            policy.Modes[key] = ((Domain.DriftModeSetting?)mode).ToProto();
        }

        policy.Maintenance.AddRange(d.Maintenance.Select(w => new V1.MaintenanceWindow { Days = w.Days, Start = w.Start, DurationMinutes = w.DurationMinutes }));
        return policy;
    }

    /// <summary>An agent's event; the caller has checked every field (AgentApi.ReportDrift).</summary>
    public static Domain.DriftEventRecord ToDomain(this V1.DriftEvent e) => new(
        e.Id,
        e.ResourceId,
        e.Kind,
        e.Generation,
        e.Expected,
        e.Actual,
        e.Diff,
        e.Trigger,
        e.DetectedAt.ToDateTimeOffset(),
        e.Action switch
        {
            V1.DriftAction.Corrected => Domain.DriftOutcome.Corrected,
            V1.DriftAction.Reported => Domain.DriftOutcome.Reported,
            V1.DriftAction.Suppressed => Domain.DriftOutcome.Suppressed,
            V1.DriftAction.Flapping => Domain.DriftOutcome.Flapping,
            V1.DriftAction.Failed => Domain.DriftOutcome.Failed,
            _ => throw new ArgumentOutOfRangeException(nameof(e), e.Action, "unchecked drift action"),
        },
        e.CorrectedAt?.ToDateTimeOffset(),
        e.Recurred,
        e.Error)
    {
        Accept = [.. e.Accept.Select(p => new Domain.DriftPatch(p.Path, p.Value))],
    };

    public static V1.DriftRecord ToProto(this Domain.StoredDrift d)
    {
        var e = d.Event;
        var wire = new V1.DriftEvent
        {
            Id = e.Id,
            ResourceId = e.ResourceId,
            Kind = e.Kind,
            Generation = e.Generation,
            Expected = e.Expected,
            Actual = e.Actual,
            Diff = e.Diff,
            Trigger = e.Trigger,
            DetectedAt = Timestamp.FromDateTimeOffset(e.DetectedAt),
            Action = e.Action switch
            {
                Domain.DriftOutcome.Corrected => V1.DriftAction.Corrected,
                Domain.DriftOutcome.Reported => V1.DriftAction.Reported,
                Domain.DriftOutcome.Suppressed => V1.DriftAction.Suppressed,
                Domain.DriftOutcome.Flapping => V1.DriftAction.Flapping,
                Domain.DriftOutcome.Failed => V1.DriftAction.Failed,
                _ => V1.DriftAction.Unspecified,
            },
            CorrectedAt = OrNull(e.CorrectedAt),
            Recurred = e.Recurred,
            Error = e.Error,
            Accept = { e.Accept.Select(p => new V1.SpecPatch { Path = p.Path, Value = p.Value }) },
        };
        return new V1.DriftRecord
        {
            HostId = d.HostId,
            HostName = d.HostName,
            Event = wire,
            ReceivedAt = Timestamp.FromDateTimeOffset(d.ReceivedAt),
            AcceptedAt = OrNull(d.AcceptedAt),
            AcceptedBy = d.AcceptedBy,
        };
    }

    /// <summary>Unknown enum numbers (a newer client) stay out of range so validation names them.</summary>
    private static Domain.TlsSetting ToDomain(this V1.TlsMode mode) => mode switch
    {
        V1.TlsMode.Unspecified or V1.TlsMode.SelfSigned => Domain.TlsSetting.SelfSigned,
        V1.TlsMode.Acme => Domain.TlsSetting.Acme,
        _ => (Domain.TlsSetting)(-1),
    };

    private static V1.TlsMode ToProto(this Domain.TlsSetting tls) =>
        tls == Domain.TlsSetting.Acme ? V1.TlsMode.Acme : V1.TlsMode.SelfSigned;

    public static V1.HostProfile ToProto(this Domain.HostProfile p)
    {
        var profile = new V1.HostProfile
        {
            Domains = { p.Domains },
            Tls = p.Tls.ToProto(),
            AcmeEmail = p.AcmeEmail ?? "",
            DatabaseManager = p.DatabaseManager,
            Workers = p.Workers ?? 0,
            MaxCronThreads = p.MaxCronThreads ?? 0,
            OdooOptions = { p.OdooOptions.ToDictionary(StringComparer.Ordinal) },
            LogLevel = p.LogLevel ?? "",
            LoginMaxRetry = p.LoginMaxRetry ?? 0,
            LoginFindTimeSeconds = p.LoginFindTimeSeconds ?? 0,
            LoginBanSeconds = p.LoginBanSeconds ?? 0,
            UnattendedUpgradesOff = p.UnattendedUpgradesOff,
            Drift = p.Drift.ToProto(),
        };
        if (p.Postgres is { } pg)
        {
            profile.Postgres = new V1.PostgresProfile { Host = pg.Host, Port = pg.Port ?? 0, User = pg.User ?? "", Sslmode = pg.SslMode ?? "" };
        }

        return profile;
    }

    public static V1.HostPlan ToProto(this Domain.StoredPlan plan, string hostName)
    {
        var report = plan.Report ?? throw new InvalidOperationException($"plan {plan.RequestId} has no report yet");
        var result = new V1.HostPlan
        {
            RequestId = plan.RequestId,
            HostId = plan.HostId,
            HostName = hostName,
            Generation = report.Generation,
            Success = report.Success,
            Error = report.Error,
            Explanation = { report.Explanation },
            RequestedAt = Timestamp.FromDateTimeOffset(plan.RequestedAt),
        };
        result.Resources.AddRange(report.Resources.Select(r => r.ToProto()));
        if (report.StartedAt != DateTimeOffset.MinValue)
        {
            result.StartedAt = Timestamp.FromDateTimeOffset(report.StartedAt);
        }

        if (report.FinishedAt != DateTimeOffset.MinValue)
        {
            result.FinishedAt = Timestamp.FromDateTimeOffset(report.FinishedAt);
        }

        return result;
    }

    private static V1.ResourceResult ToProto(this Domain.ResourceResult r) => new()
    {
        Id = r.Id,
        Kind = r.Kind,
        Status = r.Outcome switch
        {
            Domain.ResourceOutcome.Changed => V1.ResourceStatus.Changed,
            Domain.ResourceOutcome.Failed => V1.ResourceStatus.Failed,
            Domain.ResourceOutcome.Skipped => V1.ResourceStatus.Skipped,
            _ => V1.ResourceStatus.Unchanged,
        },
        Message = r.Message,
        DurationMs = r.DurationMs,
        Detail = r.Detail,
    };

    private static Domain.ResourceOutcome ToDomain(this V1.ResourceStatus s) => s switch
    {
        V1.ResourceStatus.Changed => Domain.ResourceOutcome.Changed,
        V1.ResourceStatus.Failed => Domain.ResourceOutcome.Failed,
        V1.ResourceStatus.Skipped => Domain.ResourceOutcome.Skipped,
        _ => Domain.ResourceOutcome.Unchanged,
    };

    public static V1.OdooRelease ToProto(this Domain.OdooRelease? r) =>
        r is null ? new V1.OdooRelease() : new V1.OdooRelease { Series = r.Series, Commit = r.Commit };

    public static V1.HostFacts ToProto(this Domain.HostFacts f) => new()
    {
        Hostname = f.Hostname ?? "",
        OsId = f.OsId ?? "",
        OsVersion = f.OsVersion ?? "",
        CpuCores = f.CpuCores,
        MemoryBytes = f.MemoryBytes,
        DiskTotalBytes = f.DiskTotalBytes,
        Addresses = { f.Addresses ?? [] },
        AgentVersion = f.AgentVersion ?? "",
        MachineId = f.MachineId ?? "",
    };

    public static V1.HostMetrics ToProto(this Domain.HostMetrics m) => new()
    {
        CpuPercent = m.CpuPercent,
        MemoryTotalBytes = m.MemoryTotalBytes,
        MemoryAvailableBytes = m.MemoryAvailableBytes,
        DiskTotalBytes = m.DiskTotalBytes,
        DiskFreeBytes = m.DiskFreeBytes,
        Load1 = m.Load1,
        Load5 = m.Load5,
        Load15 = m.Load15,
    };

    public static V1.Host ToProto(this Domain.HostRecord h, DateTimeOffset now, TimeSpan offlineAfter)
    {
        var host = new V1.Host
        {
            Id = h.Id,
            Name = h.Name,
            Address = h.Address,
            State = h.IsOnline(now, offlineAfter) ? V1.HostState.Online : V1.HostState.Offline,
            DesiredGeneration = h.DesiredGeneration,
            AppliedGeneration = h.AppliedGeneration,
            Odoo = h.RunningRelease.ToProto(),
            EnrolledAt = Timestamp.FromDateTimeOffset(h.EnrolledAt),
            LastConvergeSuccess = h.LastConvergeSuccess,
            LastConvergeError = h.LastConvergeError,
            Profile = h.Profile.ToProto(),
            Labels = { h.Labels.ToDictionary(StringComparer.Ordinal) },
        };
        if (h.LastSeen is { } seen)
        {
            host.LastSeen = Timestamp.FromDateTimeOffset(seen);
        }

        if (h.Facts is { } facts)
        {
            host.Facts = facts.ToProto();
        }

        if (h.Metrics is { } metrics)
        {
            host.Metrics = metrics.ToProto();
        }

        return host;
    }

    /// <summary>The agent's spec; the profile's unset values are the agent's defaults (zero/empty on the wire).</summary>
    public static V1.HostSpec ToProto(this Domain.HostSpec s)
    {
        var p = s.Profile;
        var postgres = p.Postgres is { } pg
            ? new V1.PostgresSpec { Remote = true, Host = pg.Host, Port = pg.Port ?? 0, User = pg.User ?? "", Sslmode = pg.SslMode ?? "" }
            : new V1.PostgresSpec { Settings = { p.PostgresSettings.ToDictionary(StringComparer.Ordinal) } };
        return new V1.HostSpec
        {
            HostId = s.HostId,
            Generation = s.Generation,
            Odoo = new V1.OdooSpec
            {
                Release = s.Release.ToProto(),
                SourceUrl = s.SourceUrl,
                Wheelhouse = s.Wheelhouse ?? "",
                HttpPort = s.HttpPort,
                GeventPort = s.GeventPort,
                Workers = p.Workers ?? 0,
                MaxCronThreads = p.MaxCronThreads ?? 0,
                Options = { p.OdooOptions.ToDictionary(StringComparer.Ordinal) },
                LogLevel = p.LogLevel ?? "",
                AdminPasswdHash = s.AdminPasswdHash,
                Artifact = s.Artifact is { } a ? new V1.ReleaseArtifact { Path = a.Path, Sha256 = a.Sha256, SizeBytes = a.SizeBytes } : null,
                Gate = s.Gate is { } g
                    ? new V1.ReleaseGate
                    {
                        RolloutId = g.RolloutId,
                        SkipBackup = g.SkipBackup,
                        HealthTimeoutSeconds = g.HealthTimeoutSeconds,
                        MinHealthySeconds = g.MinHealthySeconds,
                    }
                    : null,
            },
            Postgres = postgres,
            Web = new V1.WebSpec
            {
                Domains = { p.Domains },
                Tls = p.Tls.ToProto(),
                AcmeEmail = p.AcmeEmail ?? "",
                DatabaseManager = p.DatabaseManager,
            },
            Security = new V1.SecuritySpec
            {
                LoginMaxRetry = p.LoginMaxRetry ?? 0,
                LoginFindTimeSeconds = p.LoginFindTimeSeconds ?? 0,
                LoginBanSeconds = p.LoginBanSeconds ?? 0,
                UnattendedUpgradesOff = p.UnattendedUpgradesOff,
            },
            Drift = p.Drift.ToProto(),
            Tenants = { s.Tenants.Select(t => t.ToSpec()) },
            TenantArchiveRetentionDays = s.TenantArchiveRetentionDays,
        };
    }

    /// <summary>A rollout header; hosts and batches come with <see cref="ToProto(Domain.RolloutView)"/>.</summary>
    public static V1.Rollout ToProto(this Domain.RolloutRecord r)
    {
        var rollout = new V1.Rollout
        {
            Id = r.Id,
            State = r.Status.ToProto(),
            Release = r.Release.ToProto(),
            CreatedAt = Timestamp.FromDateTimeOffset(r.CreatedAt),
            FinishedAt = OrNull(r.FinishedAt),
            Message = r.Message,
            Policy = r.Policy.ToProto(),
            RollbackOf = r.RollbackOf ?? "",
            CreatedBy = r.CreatedBy,
            CurrentBatch = r.CurrentBatch,
            Artifact = r.Artifact is { } a ? new V1.ReleaseArtifactInfo { Sha256 = a.Sha256, SizeBytes = a.SizeBytes } : null,
        };
        return rollout;
    }

    /// <summary>A listed rollout: header and batch counts, hosts omitted.</summary>
    public static V1.Rollout ToProto(this Domain.RolloutSummary summary)
    {
        var rollout = summary.Rollout.ToProto();
        rollout.Batches.AddRange(summary.Batches.Select(b => b.ToProto()));
        return rollout;
    }

    private static V1.RolloutBatch ToProto(this Domain.RolloutBatchCounts counts)
    {
        var b = counts.Batch;
        return new V1.RolloutBatch
        {
            Index = b.Index,
            Canary = b.Canary,
            State = b.Status switch
            {
                Domain.RolloutBatchStatus.Pending => V1.RolloutBatchState.Pending,
                Domain.RolloutBatchStatus.Running => V1.RolloutBatchState.Running,
                Domain.RolloutBatchStatus.Done => V1.RolloutBatchState.Done,
                Domain.RolloutBatchStatus.Cancelled => V1.RolloutBatchState.Cancelled,
                _ => V1.RolloutBatchState.Unspecified,
            },
            Hosts = counts.Hosts,
            Succeeded = counts.Succeeded,
            Failed = counts.Failed,
            Skipped = counts.Skipped,
            StartedAt = OrNull(b.StartedAt),
            FinishedAt = OrNull(b.FinishedAt),
        };
    }

    public static V1.Rollout ToProto(this Domain.RolloutView view)
    {
        var rollout = view.Rollout.ToProto();
        var byBatch = view.Hosts.ToLookup(h => h.Batch);
        rollout.Batches.AddRange(view.Batches.Select(b =>
        {
            var hosts = byBatch[b.Index].ToList();
            return new Domain.RolloutBatchCounts(
                b,
                hosts.Count,
                hosts.Count(h => h.Status is RolloutHostStatus.Succeeded or RolloutHostStatus.Unchanged),
                hosts.Count(h => RolloutStep.IsFailure(h.Status)),
                hosts.Count(h => h.Status == RolloutHostStatus.Skipped)).ToProto();
        }));
        rollout.Hosts.AddRange(view.Hosts.Select(h => new V1.RolloutHost
        {
            Id = h.HostId,
            Name = h.Name,
            State = h.Status switch
            {
                RolloutHostStatus.Pending => V1.RolloutHostState.Pending,
                RolloutHostStatus.Updating => V1.RolloutHostState.Updating,
                RolloutHostStatus.Succeeded => V1.RolloutHostState.Succeeded,
                RolloutHostStatus.Failed => V1.RolloutHostState.Failed,
                RolloutHostStatus.Unchanged => V1.RolloutHostState.Unchanged,
                RolloutHostStatus.Reverted => V1.RolloutHostState.Reverted,
                RolloutHostStatus.Skipped => V1.RolloutHostState.Skipped,
                RolloutHostStatus.Cancelled => V1.RolloutHostState.Cancelled,
                _ => V1.RolloutHostState.Unspecified,
            },
            Generation = h.TargetGeneration,
            Message = h.Message,
            UpdatedAt = Timestamp.FromDateTimeOffset(h.UpdatedAt),
            Batch = h.Batch,
            FromRelease = h.From?.ToProto(),
            Phase = h.Phase,
            LogTail = h.LogTail,
            UnavailableMs = h.UnavailableMs,
            UpdatedModules = { h.UpdatedModules },
            Staged = h.Staged,
        }));
        return rollout;
    }

    public static V1.RolloutState ToProto(this Domain.RolloutStatus status) => status switch
    {
        Domain.RolloutStatus.Running => V1.RolloutState.Running,
        Domain.RolloutStatus.Paused => V1.RolloutState.Paused,
        Domain.RolloutStatus.Succeeded => V1.RolloutState.Succeeded,
        Domain.RolloutStatus.Failed => V1.RolloutState.Failed,
        Domain.RolloutStatus.Aborted => V1.RolloutState.Aborted,
        Domain.RolloutStatus.Planned => V1.RolloutState.Planned,
        _ => V1.RolloutState.Unspecified,
    };

    public static V1.RolloutPolicy ToProto(this Domain.RolloutPolicy p) => new()
    {
        Selector = { p.Selector },
        Canary = p.Canary,
        Batch = p.Batch,
        MaxFailures = p.MaxFailures,
        MaxFailuresHosts = p.MaxFailuresHosts,
        HealthTimeoutSeconds = p.HealthTimeoutSeconds,
        MinHealthySeconds = p.MinHealthySeconds,
        PauseAfterCanary = p.PauseAfterCanary,
        NoBackup = p.NoBackup,
        Offline = p.Offline == Domain.OfflinePolicy.Wait ? V1.OfflinePolicy.Wait : V1.OfflinePolicy.Skip,
    };

    public static V1.FleetEventRecord ToProto(this Persistence.StoredEvent e) => new()
    {
        Id = e.Id,
        Type = e.Type,
        Subject = e.Subject,
        DataJson = e.DataJson,
        OccurredAt = Timestamp.FromDateTimeOffset(e.OccurredAt),
    };

    public static V1.RemoveHostResponse ToProto(this Messaging.HostRemovalResult r) => new()
    {
        HostId = r.HostId,
        HostName = r.HostName,
        Removed = r.Removed,
    };

    public static V1.Role ToProto(this Domain.AccessRole role) => role switch
    {
        Domain.AccessRole.Viewer => V1.Role.Viewer,
        Domain.AccessRole.Operator => V1.Role.Operator,
        Domain.AccessRole.Admin => V1.Role.Admin,
        _ => V1.Role.Unspecified,
    };

    public static Domain.AccessRole ToDomain(this V1.Role role) => role switch
    {
        V1.Role.Viewer => Domain.AccessRole.Viewer,
        V1.Role.Operator => Domain.AccessRole.Operator,
        V1.Role.Admin => Domain.AccessRole.Admin,
        _ => Domain.AccessRole.None,
    };

    /// <summary>The stored token without its secret: the secret exists only in the creation answer.</summary>
    public static V1.ApiToken ToProto(this Domain.ApiTokenRecord t)
    {
        var token = new V1.ApiToken
        {
            Id = t.Id,
            Name = t.Name,
            Role = t.Role.ToProto(),
            CreatedAt = Timestamp.FromDateTimeOffset(t.CreatedAt),
            CreatedBy = t.CreatedBy,
        };
        token.ExpiresAt = OrNull(t.ExpiresAt);
        token.RevokedAt = OrNull(t.RevokedAt);
        token.LastUsedAt = OrNull(t.LastUsedAt);
        return token;
    }

    public static V1.EnrollmentToken ToProto(this Domain.EnrollmentTokenRecord t) => new()
    {
        Id = t.Id,
        CreatedAt = Timestamp.FromDateTimeOffset(t.CreatedAt),
        ExpiresAt = Timestamp.FromDateTimeOffset(t.ExpiresAt),
        HostName = t.HostName ?? "",
        Labels = { t.Labels.ToDictionary(StringComparer.Ordinal) },
        CreatedBy = t.CreatedBy,
        UsedAt = OrNull(t.UsedAt),
        UsedByHost = t.UsedByHost ?? "",
        RevokedAt = OrNull(t.RevokedAt),
    };

    public static V1.AuditEntry ToProto(this Persistence.AuditRecord a) => new()
    {
        Id = a.Id,
        At = Timestamp.FromDateTimeOffset(a.At),
        Actor = a.Actor,
        Role = Domain.AccessRoles.Parse(a.Role).ToProto(),
        Action = a.Action,
        Target = a.Target,
        Result = a.Result,
        Address = a.Address,
        Detail = a.DetailJson,
    };

    public static V1.Tenant ToProto(this Domain.TenantRecord t) => new()
    {
        Id = t.Id,
        Name = t.Name,
        HostId = t.HostId,
        HostName = t.HostName,
        Plan = t.Plan,
        State = t.State.ToProto(),
        Database = t.DatabaseName,
        PrimaryDomain = t.PrimaryDomain,
        Aliases = { t.Aliases },
        Modules = { t.Modules },
        CreatedAt = Timestamp.FromDateTimeOffset(t.CreatedAt),
        UpdatedAt = Timestamp.FromDateTimeOffset(t.UpdatedAt),
        DatabaseBytes = t.DatabaseBytes ?? -1,
        FilestoreBytes = t.FilestoreBytes ?? -1,
        LastBackupAt = OrNull(t.LastBackupAt),
        Url = $"https://{t.PrimaryDomain}/",
        PendingState = t.PendingState?.ToProto() ?? V1.TenantState.Unspecified,
        SizesMeasuredAt = OrNull(t.SizesMeasuredAt),
        Lang = t.Lang ?? "",
        Country = t.Country ?? "",
        CloneOf = t.CloneOf ?? "",
        Neutralized = t.Neutralize,
        Move = t.Move?.ToProto(),
    };

    public static V1.TenantMove ToProto(this Domain.TenantMoveRecord m) => new()
    {
        Id = m.Id,
        FromHostId = m.SourceHostId,
        FromHostName = m.SourceHostName,
        ToHostId = m.TargetHostId,
        ToHostName = m.TargetHostName,
        Step = m.Step switch
        {
            Domain.TenantMoveStep.Exporting => V1.TenantMoveStep.Exporting,
            Domain.TenantMoveStep.Importing => V1.TenantMoveStep.Importing,
            Domain.TenantMoveStep.Switched => V1.TenantMoveStep.Switched,
            Domain.TenantMoveStep.Done => V1.TenantMoveStep.Done,
            Domain.TenantMoveStep.RollingBack => V1.TenantMoveStep.RollingBack,
            _ => V1.TenantMoveStep.RolledBack,
        },
        Error = m.Error,
        ArchiveBytes = m.ArchiveBytes ?? 0,
        ArchiveSha256 = m.ArchiveSha256 ?? "",
        StartedAt = Timestamp.FromDateTimeOffset(m.CreatedAt),
        UpdatedAt = Timestamp.FromDateTimeOffset(m.UpdatedAt),
    };

    public static Domain.TenantSizeRecord ToDomain(this V1.TenantSize t) => new(t.Name, t.DatabaseBytes, t.FilestoreBytes);

    public static V1.TenantState ToProto(this Domain.TenantState state) => state switch
    {
        Domain.TenantState.Creating => V1.TenantState.Creating,
        Domain.TenantState.Active => V1.TenantState.Active,
        Domain.TenantState.Suspended => V1.TenantState.Suspended,
        _ => V1.TenantState.Deleting,
    };

    /// <summary>null = any state (unspecified).</summary>
    public static Domain.TenantState? ToDomain(this V1.TenantState state) => state switch
    {
        V1.TenantState.Creating => Domain.TenantState.Creating,
        V1.TenantState.Active => Domain.TenantState.Active,
        V1.TenantState.Suspended => Domain.TenantState.Suspended,
        V1.TenantState.Deleting => Domain.TenantState.Deleting,
        _ => null,
    };

    public static V1.PlacementVerdict ToProto(this HostVerdict v) => new()
    {
        HostId = v.HostId,
        HostName = v.Name,
        Fits = v.Fits,
        Headroom = v.Score,
        Reasons = { v.Reasons },
    };

    private static V1.TenantSpec ToSpec(this Domain.TenantRecord t) => new()
    {
        Name = t.Name,
        Database = t.DatabaseName,
        PrimaryDomain = t.PrimaryDomain,
        Aliases = { t.Aliases },
        Modules = { t.Modules },
        State = t.DesiredState switch
        {
            Domain.TenantDesiredState.Suspended => V1.TenantSpecState.Suspended,
            Domain.TenantDesiredState.Absent => V1.TenantSpecState.Absent,
            _ => V1.TenantSpecState.Active,
        },
        Lang = t.Lang ?? "",
        Country = t.Country ?? "",
        CloneOf = t.CloneOf ?? "",
        Neutralize = t.Neutralize,
        MoveOut = t.MoveOut is { } moveOut ? new V1.TenantMoveOut { MoveId = moveOut.MoveId, UploadPath = moveOut.UploadPath } : null,
        MoveIn = t.MoveIn is { } moveIn
            ? new V1.TenantMoveIn { MoveId = moveIn.MoveId, Archive = new V1.ReleaseArtifact { Path = moveIn.ArchivePath, Sha256 = moveIn.Sha256, SizeBytes = moveIn.Bytes } }
            : null,
    };

    private static Timestamp? OrNull(DateTimeOffset? time) => time is { } t ? Timestamp.FromDateTimeOffset(t) : null;
}
