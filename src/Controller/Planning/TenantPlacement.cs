using System.Globalization;
using OdooFleet.Controller.Domain;

namespace OdooFleet.Controller.Planning;

/// <summary>
/// A host as placement sees it: what its agent reported (null = not reported yet) and what the
/// tenants already placed on it reserve.
/// </summary>
internal sealed record PlacementHost(
    string HostId,
    string Name,
    IReadOnlyDictionary<string, string> Labels,
    bool Online,
    long? MemoryBytes,
    long? DiskTotalBytes,
    long? DiskFreeBytes,
    int Workers,
    TenantLoad Load)
{
    /// <summary>
    /// Workers placement counts on: the host's configured workers, else the profile's CPU rule
    /// (2 x cores + 1; the agent may run fewer when RAM is short, which the RAM budget covers).
    /// </summary>
    public static int WorkersOf(HostRecord host) =>
        host.Profile.Workers is > 0 and var w ? w : host.Facts is { CpuCores: > 0 } f ? (2 * f.CpuCores) + 1 : 0;

    public static PlacementHost From(HostRecord host, TenantLoad load, DateTimeOffset now, TimeSpan offlineAfter) => new(
        host.Id,
        host.Name,
        host.Labels,
        host.IsOnline(now, offlineAfter),
        host.Metrics is { MemoryTotalBytes: > 0 } m ? m.MemoryTotalBytes : host.Facts?.MemoryBytes,
        host.Metrics is { DiskTotalBytes: > 0 } d ? d.DiskTotalBytes : host.Facts?.DiskTotalBytes,
        host.Metrics?.DiskFreeBytes,
        WorkersOf(host),
        load);
}

/// <summary>What the tenants placed on one host reserve, by their plans.</summary>
internal sealed record TenantLoad(int Tenants, long MemoryMiB, long MilliWorkers, long DiskMiB)
{
    public static readonly TenantLoad None = new(0, 0, 0, 0);

    public TenantLoad Plus(TenantPlan plan) =>
        new(Tenants + 1, MemoryMiB + plan.MemoryMiB, MilliWorkers + plan.MilliWorkers, DiskMiB + plan.DiskMiB);
}

/// <summary>Fleet-wide placement limits (section "Tenants" of the controller's settings).</summary>
internal sealed record PlacementPolicy(long ReservedMemoryMiB, int MaxTenantsPerHost, int DiskReservePercent)
{
    /// <summary>1 GiB for the OS, PostgreSQL's shared buffers and Odoo's own processes; 10 % of the disk kept free.</summary>
    public static readonly PlacementPolicy Default = new(1024, 250, 10);
}

/// <summary>Which hosts a tenant may go to: one named host, or those whose labels match every selector pair (empty = all).</summary>
internal sealed record PlacementRequest(TenantPlan Plan, string? Host, IReadOnlyDictionary<string, string> Selector);

/// <summary>Why one host was or was not chosen. Score is the smallest fraction of any budget left after placing (0..1).</summary>
internal sealed record HostVerdict(string HostId, string Name, bool Fits, double Score, IReadOnlyList<string> Reasons);

/// <summary>The chosen host (null = none fits) and the verdict on every host considered, best first.</summary>
internal sealed record PlacementDecision(HostVerdict? Chosen, IReadOnlyList<HostVerdict> Verdicts, string Summary);

/// <summary>
/// Tenant placement, a pure function of the hosts' reported capacity, what the tenants already
/// placed reserve, and the policy. It never over-commits: a host takes a tenant only if its
/// plan's RAM, worker share and disk fit in what is left, under the tenant limit. Among the hosts
/// that fit it picks the one with the most headroom (the largest smallest-budget fraction left
/// after placing), then the fewest tenants, then the name, so the same inputs give the same host.
/// </summary>
internal static class TenantPlacement
{
    private const long MiB = 1024 * 1024;

    public static PlacementDecision Place(PlacementRequest request, IReadOnlyList<PlacementHost> hosts, PlacementPolicy policy)
    {
        var considered = request.Host is { } named
            ? hosts.Where(h => string.Equals(h.Name, named, StringComparison.Ordinal) || string.Equals(h.HostId, named, StringComparison.Ordinal)).ToList()
            : [.. hosts];
        if (considered.Count == 0)
        {
            var why = request.Host is not null
                ? $"no host is named '{request.Host}'; see `fleet hosts`"
                : "the fleet has no hosts; enroll one first (`fleet token create`)";
            return new PlacementDecision(null, [], why);
        }

        var verdicts = considered
            .Select(h => (Verdict: Judge(h, request, policy), h.Load.Tenants))
            .OrderByDescending(j => j.Verdict.Fits)
            .ThenByDescending(j => j.Verdict.Score)
            .ThenBy(j => j.Tenants)
            .ThenBy(j => j.Verdict.Name, StringComparer.Ordinal)
            .Select(j => j.Verdict)
            .ToList();
        var chosen = verdicts[0].Fits ? verdicts[0] : null;
        var summary = chosen is not null
            ? $"{chosen.Name}: fits a {request.Plan.Name} tenant ({request.Plan.Summary}) with {Percent(chosen.Score)} of its tightest budget left, the most of the {verdicts.Count(v => v.Fits)} host(s) that fit"
            : $"no host fits a {request.Plan.Name} tenant ({request.Plan.Summary}) among {verdicts.Count} considered; add a host, free capacity or choose a smaller plan";
        return new PlacementDecision(chosen, verdicts, summary);
    }

    private static HostVerdict Judge(PlacementHost host, PlacementRequest request, PlacementPolicy policy)
    {
        var reasons = new List<string>();
        var plan = request.Plan;
        foreach (var (key, value) in request.Selector.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            if (!host.Labels.TryGetValue(key, out var actual))
            {
                reasons.Add($"selector {key}={value}: the host has no label {key}");
            }
            else if (!string.Equals(actual, value, StringComparison.Ordinal))
            {
                reasons.Add($"selector {key}={value}: the host has {key}={actual}");
            }
        }

        if (!host.Online)
        {
            reasons.Add("offline: no recent heartbeat, so its capacity is unknown");
        }

        if (host.MemoryBytes is not > 0 || host.DiskTotalBytes is not > 0 || host.DiskFreeBytes is null || host.Workers <= 0)
        {
            reasons.Add("capacity unknown: its agent has not reported facts and metrics yet");
            return new HostVerdict(host.HostId, host.Name, false, 0, reasons);
        }

        var after = host.Load.Plus(plan);
        var tenantShare = Left(after.Tenants, policy.MaxTenantsPerHost);
        if (after.Tenants > policy.MaxTenantsPerHost)
        {
            reasons.Add($"tenants: {host.Load.Tenants} placed, the limit is {policy.MaxTenantsPerHost} per host");
        }

        var memoryBudget = (host.MemoryBytes.Value / MiB) - policy.ReservedMemoryMiB;
        var memoryShare = Left(after.MemoryMiB, memoryBudget);
        if (after.MemoryMiB > memoryBudget)
        {
            reasons.Add($"RAM: {host.Load.MemoryMiB} MiB reserved + {plan.MemoryMiB} MiB > {Math.Max(0, memoryBudget)} MiB for tenants "
                + $"({host.MemoryBytes.Value / MiB} MiB - {policy.ReservedMemoryMiB} MiB kept for the OS, PostgreSQL and Odoo)");
        }

        var workerBudget = host.Workers * 1000L;
        var workerShare = Left(after.MilliWorkers, workerBudget);
        if (after.MilliWorkers > workerBudget)
        {
            reasons.Add($"workers: {Workers(host.Load.MilliWorkers)} reserved + {Workers(plan.MilliWorkers)} > {host.Workers} workers");
        }

        var diskTotalMiB = host.DiskTotalBytes.Value / MiB;
        var diskBudget = diskTotalMiB * (100 - policy.DiskReservePercent) / 100;
        var diskShare = Left(after.DiskMiB, diskBudget);
        if (after.DiskMiB > diskBudget)
        {
            reasons.Add($"disk: {host.Load.DiskMiB} MiB reserved + {plan.DiskMiB} MiB > {diskBudget} MiB "
                + $"({100 - policy.DiskReservePercent} % of {diskTotalMiB} MiB)");
        }

        // Reservations are promises; the disk that is really free must also hold this tenant's share.
        var freeMiB = host.DiskFreeBytes.Value / MiB;
        var keepFree = diskTotalMiB * policy.DiskReservePercent / 100;
        if (freeMiB - plan.DiskMiB < keepFree)
        {
            reasons.Add($"disk: {freeMiB} MiB free now - {plan.DiskMiB} MiB would leave less than the {keepFree} MiB ({policy.DiskReservePercent} %) kept free");
        }

        var score = Math.Max(0, new[] { tenantShare, memoryShare, workerShare, diskShare }.Min());
        if (reasons.Count > 0)
        {
            return new HostVerdict(host.HostId, host.Name, false, 0, reasons);
        }

        reasons.Add(string.Create(CultureInfo.InvariantCulture,
            $"fits: after placing, RAM {after.MemoryMiB}/{memoryBudget} MiB, workers {Workers(after.MilliWorkers)}/{host.Workers}, "
            + $"disk {after.DiskMiB}/{diskBudget} MiB, tenants {after.Tenants}/{policy.MaxTenantsPerHost}; headroom {Percent(score)}"));
        return new HostVerdict(host.HostId, host.Name, true, score, reasons);
    }

    /// <summary>
    /// How many more tenants of <paramref name="plan"/> the host takes by the same budgets as
    /// <see cref="Place"/> (ignoring labels and whether it is online); null when its capacity is unknown.
    /// </summary>
    public static int? Room(PlacementHost host, TenantPlan plan, PlacementPolicy policy)
    {
        if (host.MemoryBytes is not > 0 || host.DiskTotalBytes is not > 0 || host.DiskFreeBytes is null || host.Workers <= 0)
        {
            return null;
        }

        var diskTotalMiB = host.DiskTotalBytes.Value / MiB;
        long[] fits =
        [
            policy.MaxTenantsPerHost - host.Load.Tenants,
            ((host.MemoryBytes.Value / MiB) - policy.ReservedMemoryMiB - host.Load.MemoryMiB) / plan.MemoryMiB,
            ((host.Workers * 1000L) - host.Load.MilliWorkers) / plan.MilliWorkers,
            ((diskTotalMiB * (100 - policy.DiskReservePercent) / 100) - host.Load.DiskMiB) / plan.DiskMiB,
            ((host.DiskFreeBytes.Value / MiB) - (diskTotalMiB * policy.DiskReservePercent / 100)) / plan.DiskMiB,
        ];
        return (int)Math.Clamp(fits.Min(), 0, int.MaxValue);
    }

    /// <summary>The fraction of <paramref name="budget"/> left after <paramref name="used"/> (negative when over).</summary>
    private static double Left(long used, long budget) => budget <= 0 ? -1 : (budget - used) / (double)budget;

    private static string Workers(long milliWorkers) => (milliWorkers / 1000.0).ToString("0.###", CultureInfo.InvariantCulture);

    private static string Percent(double fraction) => (fraction * 100).ToString("0.#", CultureInfo.InvariantCulture) + " %";
}
