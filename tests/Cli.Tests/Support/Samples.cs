using Google.Protobuf.WellKnownTypes;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Tests.Support;

/// <summary>Canned proto messages shared by the view and end-to-end tests.</summary>
internal static class Samples
{
    public const string Commit = "3f2a9c1d0b7e4a5f6c8d9e0a1b2c3d4e5f6a7b8c";

    public static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    public static Host OnlineHost() => new()
    {
        Id = "h-web01",
        Name = "web-01",
        Address = "10.0.0.11",
        State = HostState.Online,
        DesiredGeneration = 4,
        AppliedGeneration = 3,
        Odoo = new OdooRelease { Series = "18.0", Commit = Commit },
        LastSeen = Timestamp.FromDateTimeOffset(Now.AddSeconds(-42)),
        EnrolledAt = Timestamp.FromDateTimeOffset(Now.AddDays(-3)),
        LastConvergeSuccess = true,
        Facts = new HostFacts
        {
            Hostname = "web-01",
            OsId = "debian",
            OsVersion = "12",
            CpuCores = 4,
            MemoryBytes = 8L << 30,
            DiskTotalBytes = 100L << 30,
            Addresses = { "10.0.0.11" },
            AgentVersion = "0.1.0",
            MachineId = "0123456789abcdef",
        },
        Metrics = new HostMetrics
        {
            CpuPercent = 12.5,
            MemoryTotalBytes = 8L << 30,
            MemoryAvailableBytes = 6L << 30,
            DiskTotalBytes = 100L << 30,
            DiskFreeBytes = 70L << 30,
            Load1 = 0.25,
            Load5 = 0.5,
            Load15 = 0.75,
        },
    };

    /// <summary>Enrolled but never heard from: no release, no last-seen, no metrics.</summary>
    public static Host SilentHost() => new()
    {
        Id = "h-db01",
        Name = "db-01",
        Address = "10.0.0.12",
        State = HostState.Offline,
        DesiredGeneration = 1,
        AppliedGeneration = 0,
        LastConvergeSuccess = false,
        LastConvergeError = "nginx -t failed",
    };

    public static HostProfile Profile() => new()
    {
        Domains = { "erp.example.com", "www.example.com" },
        Tls = TlsMode.Acme,
        AcmeEmail = "ops@example.com",
        Workers = 5,
        OdooOptions = { ["limit_time_cpu"] = "600" },
        Postgres = new PostgresProfile { Host = "db1.example.com", Sslmode = "verify-full" },
        LoginMaxRetry = 3,
        LoginBanSeconds = 86400,
    };

    /// <summary>An agent's plan: two changes (one with a diff), three unchanged resources, the tuning explanation.</summary>
    public static HostPlan Plan(bool success = true) => new()
    {
        RequestId = "p-3kq9t2mzpa",
        HostId = "h-web01",
        HostName = "web-01",
        Generation = 6,
        Success = success,
        Error = success ? "" : "service:odoo.service: systemctl is-enabled failed",
        Explanation = { "workers = 5: min(2 x 2 cores + 1 = 5, RAM allows 6)", "limit_memory_hard = 2560 MiB" },
        Resources =
        {
            new ResourceResult { Id = "user:odoo", Kind = "user", Status = ResourceStatus.Unchanged },
            new ResourceResult
            {
                Id = "file:/etc/odoo.conf", Kind = "file", Status = ResourceStatus.Changed, Message = "would write /etc/odoo.conf (812 bytes)",
                Detail = "--- /etc/odoo.conf\n+++ /etc/odoo.conf (new)\n@@ -3 +3 @@\n-workers = 3\n+workers = 5\n",
            },
            new ResourceResult { Id = "service:odoo.service", Kind = "service", Status = success ? ResourceStatus.Changed : ResourceStatus.Failed, Message = success ? "would restart (file:/etc/odoo.conf changed)" : "systemctl is-enabled failed" },
            new ResourceResult { Id = "directory:/opt/odoo", Kind = "directory", Status = ResourceStatus.Unchanged },
            new ResourceResult { Id = "health:odoo", Kind = "health", Status = ResourceStatus.Unchanged },
        },
        RequestedAt = Timestamp.FromDateTimeOffset(Now),
        FinishedAt = Timestamp.FromDateTimeOffset(Now.AddSeconds(2)),
    };

    public static Rollout Rollout(RolloutState state, params (string Id, string Name, RolloutHostState State)[] hosts)
    {
        var rollout = new Rollout
        {
            Id = "r-abc123",
            State = state,
            Release = new OdooRelease { Series = "18.0", Commit = Commit },
            CreatedAt = Timestamp.FromDateTimeOffset(Now),
        };
        if (state is RolloutState.Succeeded or RolloutState.Failed)
        {
            rollout.FinishedAt = Timestamp.FromDateTimeOffset(Now.AddMinutes(5));
        }

        foreach (var (id, name, hostState) in hosts)
        {
            rollout.Hosts.Add(new RolloutHost { Id = id, Name = name, State = hostState, Generation = 4 });
        }

        return rollout;
    }

    /// <summary>
    /// A rollout in its first batch after the canary: canary done (web-01), batch 1 running with web-02
    /// reverted and web-03 migrating, batch 2 (web-04) pending.
    /// </summary>
    public static Rollout BatchedRollout(RolloutState state = RolloutState.Running)
    {
        var rollout = new Rollout
        {
            Id = "r-abc123",
            State = state,
            Release = new OdooRelease { Series = "18.0", Commit = Commit },
            CreatedAt = Timestamp.FromDateTimeOffset(Now.AddMinutes(-10)),
            CreatedBy = "token:alice (k-3kq9t2mzpa)",
            CurrentBatch = 1,
            Policy = new RolloutPolicy
            {
                Selector = { ["role"] = "web" },
                Canary = 1,
                Batch = "50%",
                MaxFailures = "1",
                MaxFailuresHosts = 1,
                HealthTimeoutSeconds = 300,
                MinHealthySeconds = 30,
                Offline = OfflinePolicy.Skip,
            },
            Artifact = new ReleaseArtifactInfo { Sha256 = new string('e', 64), SizeBytes = 120L << 20 },
            Batches =
            {
                new RolloutBatch
                {
                    Index = 0, Canary = true, State = RolloutBatchState.Done, Hosts = 1, Succeeded = 1,
                    StartedAt = Timestamp.FromDateTimeOffset(Now.AddMinutes(-10)), FinishedAt = Timestamp.FromDateTimeOffset(Now.AddMinutes(-8)),
                },
                new RolloutBatch
                {
                    Index = 1, State = RolloutBatchState.Running, Hosts = 2, Failed = 1, StartedAt = Timestamp.FromDateTimeOffset(Now.AddMinutes(-8)),
                },
                new RolloutBatch { Index = 2, State = RolloutBatchState.Pending, Hosts = 1 },
            },
            Hosts =
            {
                new RolloutHost
                {
                    Id = "h-web01", Name = "web-01", Batch = 0, State = RolloutHostState.Succeeded, Phase = "health", Generation = 7,
                    UnavailableMs = 4200, UpdatedModules = { "acme:sale", "acme:stock" }, Staged = true,
                    FromRelease = new OdooRelease { Series = "18.0", Commit = "0123456789abcdef0123456789abcdef01234567" },
                },
                new RolloutHost
                {
                    Id = "h-web02", Name = "web-02", Batch = 1, State = RolloutHostState.Reverted, Phase = "revert", Generation = 5,
                    Message = "health gate: /web/login?db=acme answered 500 for 5m; reverted, databases restored",
                    LogTail = "2025-06-01 11:55:01,123 42 ERROR acme odoo.http: Exception during request handling.\nKeyError: 'x_new_field'\n",
                    UnavailableMs = 65_000, UpdatedModules = { "acme:sale" },
                },
                new RolloutHost { Id = "h-web03", Name = "web-03", Batch = 1, State = RolloutHostState.Updating, Phase = "migrate", Generation = 9 },
                new RolloutHost { Id = "h-web04", Name = "web-04", Batch = 2, State = RolloutHostState.Pending },
            },
        };
        return rollout;
    }

    /// <summary>A dry run's answer: canary web-01, then web-02 + web-03, then web-04 (already on the release).</summary>
    public static Rollout PlannedRollout()
    {
        var plan = BatchedRollout(RolloutState.Planned);
        plan.Id = "";
        plan.CreatedBy = "";
        plan.CreatedAt = null;
        plan.Artifact = null;
        plan.CurrentBatch = -1;
        plan.Policy.PauseAfterCanary = true;
        foreach (var batch in plan.Batches)
        {
            batch.State = RolloutBatchState.Pending;
            batch.Succeeded = batch.Failed = 0;
            batch.StartedAt = batch.FinishedAt = null;
        }

        foreach (var host in plan.Hosts)
        {
            host.State = RolloutHostState.Pending;
            host.Phase = host.Message = host.LogTail = "";
            host.UnavailableMs = 0;
            host.UpdatedModules.Clear();
            host.FromRelease = new OdooRelease { Series = "18.0", Commit = "0123456789abcdef0123456789abcdef01234567" };
        }

        plan.Hosts[3].FromRelease = plan.Release.Clone();
        return plan;
    }
}
