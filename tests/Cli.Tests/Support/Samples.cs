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
}
