using OdooFleet.Agent.Engine;
using OdooFleet.Agent.IO;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// A symlink pointing at an exact target (e.g. /opt/odoo/current -> a release). Switched
/// atomically: a new link "&lt;name&gt;.tmp-&lt;random&gt;" is renamed over the old one, so readers
/// always see the old or the new release.
/// </summary>
internal sealed class SymlinkResource(HostPaths paths, string path, string target) : Resource<SymlinkResource.Observed>
{
    internal sealed record Observed(bool Exists, bool IsLink, string? Target) : Observation;

    public override string Id => $"symlink:{path}";

    public override string Kind => "symlink";

    private string FullPath => paths.Resolve(path);

    protected override Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        var info = new FileInfo(FullPath);
        if (info.LinkTarget is { } linkTarget)
        {
            return Task.FromResult(new Observed(true, true, linkTarget));
        }

        var exists = info.Exists || Directory.Exists(FullPath);
        return Task.FromResult(new Observed(exists, false, null));
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies)
    {
        if (observed.Exists && !observed.IsLink)
        {
            throw new ResourceFailedException($"{path} exists and is not a symlink; move it away, the agent will not replace it");
        }

        if (!observed.Exists)
        {
            return new Change($"link {path} -> {target}");
        }

        return observed.Target == target ? null : new Change($"switch {path}: {observed.Target} -> {target}");
    }

    public override Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        var directory = Path.GetDirectoryName(FullPath)!;
        var temp = Path.Combine(directory, $"{Path.GetFileName(FullPath)}.tmp-{AtomicFile.RandomSuffix()}");
        File.CreateSymbolicLink(temp, target);
        try
        {
            Native.Rename(temp, FullPath);
        }
        catch
        {
            AtomicFile.TryDelete(temp);
            throw;
        }

        Native.FsyncDirectory(directory);
        return Task.FromResult<string?>(null);
    }
}
