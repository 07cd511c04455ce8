using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Output;

/// <summary>One table row of `fleet hosts`.</summary>
internal sealed record HostRow(string Id, string Name, string Address, string State, string Generation, string Odoo, string LastSeen)
{
    /// <summary>"12 (+38)": tenants placed, and how many more small ones fit ("?" before the host reported its capacity).</summary>
    public string Tenants { get; init; } = "";
}

/// <summary>Host (proto) → JSON object, table row and detail lines. Pure: the only place that knows both shapes.</summary>
internal static class HostView
{
    public static string State(HostState state) => state switch
    {
        HostState.Online => "online",
        HostState.Offline => "offline",
        _ => "unknown",
    };

    public static HostJson ToJson(Host host, bool includeFacts = false, bool includeProfile = false) =>
        new(
            host.Id,
            host.Name,
            host.Address,
            State(host.State),
            host.DesiredGeneration,
            host.AppliedGeneration,
            Formats.Release(host.Odoo),
            Formats.Iso(host.LastSeen),
            Formats.Iso(host.EnrolledAt),
            host.LastConvergeSuccess,
            Formats.NullIfEmpty(host.LastConvergeError),
            host.Metrics is { } m
                ? new MetricsJson(m.CpuPercent, m.MemoryTotalBytes, m.MemoryAvailableBytes, m.DiskTotalBytes, m.DiskFreeBytes, m.Load1, m.Load5, m.Load15)
                : null)
        {
            Tenants = host.Tenants,
            TenantRoom = host.TenantRoom < 0 ? null : host.TenantRoom,
            Facts = includeFacts && host.Facts is { } f
                ? new FactsJson(f.Hostname, f.OsId, f.OsVersion, f.CpuCores, f.MemoryBytes, f.DiskTotalBytes, [.. f.Addresses], f.AgentVersion, f.MachineId)
                : null,
            Profile = includeProfile ? ProfileView.ToJson(host.Profile ?? new HostProfile()) : null,
        };

    public static IReadOnlyList<HostJson> ToJson(IEnumerable<Host> hosts) => [.. hosts.Select(h => ToJson(h))];

    public static HostRow ToRow(Host host, DateTimeOffset now) =>
        new(
            host.Id,
            host.Name,
            host.Address,
            State(host.State),
            Generation(host),
            Formats.ShortRelease(host.Odoo),
            Formats.Ago(host.LastSeen?.ToDateTimeOffset(), now))
        {
            Tenants = TenantsText(host),
        };

    public static string TenantsText(Host host) =>
        Formats.Invariant($"{host.Tenants} (+{(host.TenantRoom < 0 ? "?" : host.TenantRoom.ToString(System.Globalization.CultureInfo.InvariantCulture))})");

    /// <summary>"applied/desired", marked when the host has not caught up yet.</summary>
    public static string Generation(Host host) =>
        Formats.Invariant($"{host.AppliedGeneration}/{host.DesiredGeneration}") + (host.AppliedGeneration < host.DesiredGeneration ? " *" : "");

    /// <summary>Label/value pairs for `fleet host show`, grouped by section (null label = section heading).</summary>
    public static IReadOnlyList<(string Section, string Label, string Value)> Details(Host host, DateTimeOffset now)
    {
        var lastSeen = host.LastSeen?.ToDateTimeOffset();
        var rows = new List<(string, string, string)>
        {
            ("Host", "id", host.Id),
            ("Host", "name", host.Name),
            ("Host", "address", host.Address),
            ("Host", "state", State(host.State)),
            ("Host", "last seen", lastSeen is null ? "never" : $"{Formats.Ago(lastSeen, now)} ({Formats.Iso(lastSeen.Value)})"),
            ("Host", "enrolled", Formats.Iso(host.EnrolledAt) ?? "-"),
            ("Desired state", "generation", Generation(host) + " (applied/desired)"),
            ("Desired state", "odoo", Formats.Release(host.Odoo) is { } r ? $"{r.Series} @ {r.Commit}" : "-"),
            ("Desired state", "tenants", TenantsText(host) + " (placed, +small ones that still fit)"),
            ("Desired state", "last converge", host.LastConvergeSuccess ? "succeeded" : Formats.NullIfEmpty(host.LastConvergeError) is { } e ? $"failed: {e}" : "-"),
        };

        rows.AddRange(ProfileView.Details(host.Profile ?? new HostProfile()).Select(d => ("Profile", d.Label, d.Value)));

        if (host.Facts is { } f)
        {
            rows.Add(("Facts", "hostname", f.Hostname));
            rows.Add(("Facts", "os", $"{f.OsId} {f.OsVersion}".Trim()));
            rows.Add(("Facts", "cpu cores", Formats.Invariant($"{f.CpuCores}")));
            rows.Add(("Facts", "memory", Formats.Bytes(f.MemoryBytes)));
            rows.Add(("Facts", "disk (/opt/odoo)", Formats.Bytes(f.DiskTotalBytes)));
            rows.Add(("Facts", "addresses", string.Join(", ", f.Addresses)));
            rows.Add(("Facts", "agent version", f.AgentVersion));
            rows.Add(("Facts", "machine id", f.MachineId));
        }

        if (host.Metrics is { } m)
        {
            rows.Add(("Metrics", "cpu", Formats.Invariant($"{m.CpuPercent:0.0}%")));
            rows.Add(("Metrics", "load", Formats.Invariant($"{m.Load1:0.00} {m.Load5:0.00} {m.Load15:0.00}")));
            rows.Add(("Metrics", "memory available", $"{Formats.Bytes(m.MemoryAvailableBytes)} of {Formats.Bytes(m.MemoryTotalBytes)}"));
            rows.Add(("Metrics", "disk free", $"{Formats.Bytes(m.DiskFreeBytes)} of {Formats.Bytes(m.DiskTotalBytes)}"));
        }

        return rows;
    }
}
