using Google.Protobuf.WellKnownTypes;
using OdooFleet.Controller.Grains;
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
        r.FinishedAt?.ToDateTimeOffset() ?? DateTimeOffset.MinValue);

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

    public static V1.HostSpec ToProto(this Domain.HostSpec s) => new()
    {
        HostId = s.HostId,
        Generation = s.Generation,
        Odoo = new V1.OdooSpec
        {
            Release = s.Release.ToProto(),
            SourceUrl = s.SourceUrl,
            HttpPort = s.HttpPort,
            GeventPort = s.GeventPort,
        },
    };

    public static V1.Rollout ToProto(this RolloutState s)
    {
        var rollout = new V1.Rollout
        {
            Id = s.Id,
            State = s.Status switch
            {
                RolloutStatus.Running => V1.RolloutState.Running,
                RolloutStatus.Succeeded => V1.RolloutState.Succeeded,
                RolloutStatus.Failed => V1.RolloutState.Failed,
                _ => V1.RolloutState.Unspecified,
            },
            Release = new V1.OdooRelease { Series = s.Series, Commit = s.Commit },
            CreatedAt = Timestamp.FromDateTimeOffset(s.CreatedAt),
            Message = s.Message,
        };
        if (s.FinishedAt is { } finished)
        {
            rollout.FinishedAt = Timestamp.FromDateTimeOffset(finished);
        }

        rollout.Hosts.AddRange(s.Hosts.Select(h => new V1.RolloutHost
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
                _ => V1.RolloutHostState.Unspecified,
            },
            Generation = h.TargetGeneration,
            Message = h.Message,
            UpdatedAt = Timestamp.FromDateTimeOffset(h.UpdatedAt),
        }));
        return rollout;
    }
}
