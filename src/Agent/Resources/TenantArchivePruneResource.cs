using OdooFleet.Agent.Engine;
using OdooFleet.Agent.IO;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// Final archives of deleted tenants older than the retention period go (judged by the time in
/// their name, which the agent wrote); an archive a deletion in progress still relies on stays.
/// </summary>
internal sealed class TenantArchivePruneResource(HostPaths paths, TimeProvider time, string archiveRoot, TimeSpan retention)
    : Resource<TenantArchivePruneResource.Observed>
{
    internal sealed record Observed(IReadOnlyList<string> Expired) : Observation;

    public override string Id => $"tenant-archive-prune:{archiveRoot}";

    public override string Kind => "tenant-archive-prune";

    private string Root => paths.Resolve(archiveRoot);

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        if (!Directory.Exists(Root))
        {
            return new Observed([]);
        }

        var inUse = new HashSet<string>(StringComparer.Ordinal);
        foreach (var marker in Directory.GetFiles(Root, ".*.deleting"))
        {
            inUse.Add((await File.ReadAllTextAsync(marker, ct)).Trim());
        }

        var cutoff = time.GetUtcNow() - retention;
        var expired = Directory.GetDirectories(Root)
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(name => TenantRemovalResource.ParseArchiveName(name) is { } parsed && parsed.At < cutoff && !inUse.Contains(name))
            .Order(StringComparer.Ordinal)
            .ToList();
        return new Observed(expired);
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies) =>
        observed.Expired.Count == 0
            ? null
            : new PruneChange(
                $"remove {observed.Expired.Count} tenant archive(s) older than {retention.TotalDays:0} days from {archiveRoot}: {string.Join(", ", observed.Expired)}",
                observed.Expired);

    public override Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        foreach (var name in ((PruneChange)change).Expired)
        {
            Directory.Delete(Path.Combine(Root, name), recursive: true);
        }

        Native.FsyncDirectory(Root);
        return Task.FromResult<string?>(null);
    }

    private sealed record PruneChange(string Description, IReadOnlyList<string> Expired) : Change(Description);
}
