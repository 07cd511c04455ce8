using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Resources;

/// <summary>A directory with a mode and, optionally, an owner and group.</summary>
internal sealed class DirectoryResource(HostPaths paths, ICommandRunner runner, string path, UnixFileMode mode, Ownership? ownership)
    : Resource<DirectoryResource.Observed>
{
    internal sealed record Observed(bool Exists, bool IsOtherType, UnixFileMode Mode, Ownership? Ownership) : Observation;

    public override string Id => $"directory:{path}";

    public override string Kind => "directory";

    private string FullPath => paths.Resolve(path);

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        var info = new DirectoryInfo(FullPath);
        if (!info.Exists)
        {
            return new Observed(false, File.Exists(FullPath) || info.LinkTarget is not null, default, null);
        }

        if (info.LinkTarget is not null)
        {
            return new Observed(false, true, default, null);
        }

        var owner = ownership is null ? null : await Ownership.ReadAsync(runner, FullPath, ct);
        return new Observed(true, false, info.UnixFileMode, owner);
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies)
    {
        if (observed.IsOtherType)
        {
            throw new ResourceFailedException($"{path} exists but is not a directory; move it away, the agent will not delete it");
        }

        if (!observed.Exists)
        {
            return new Change($"create {path} ({UnixModes.Format(mode)}{(ownership is null ? "" : " " + ownership)})");
        }

        var differences = new List<string>();
        if (observed.Mode != mode)
        {
            differences.Add($"mode {UnixModes.Format(observed.Mode)} -> {UnixModes.Format(mode)}");
        }

        if (ownership is not null && observed.Ownership != ownership)
        {
            differences.Add($"owner {observed.Ownership} -> {ownership}");
        }

        return differences.Count == 0 ? null : new Change($"{path}: {string.Join(", ", differences)}");
    }

    public override async Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        Directory.CreateDirectory(FullPath, mode);
        File.SetUnixFileMode(FullPath, mode);
        if (ownership is not null)
        {
            await ownership.ApplyAsync(runner, FullPath, ct);
        }

        return null;
    }
}
