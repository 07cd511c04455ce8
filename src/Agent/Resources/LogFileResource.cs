using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// A file that must exist with an owner and mode but whose content belongs to its writer (a log
/// file): created empty when missing, never truncated. fail2ban refuses a jail whose log file does
/// not exist yet, so Odoo's log is created before Odoo first runs.
/// </summary>
internal sealed class LogFileResource(HostPaths paths, ICommandRunner runner, string path, UnixFileMode mode, Ownership ownership)
    : Resource<LogFileResource.Observed>
{
    internal sealed record Observed(bool Exists, bool IsOtherType, UnixFileMode Mode, Ownership? Ownership) : Observation;

    public override string Id => $"logfile:{path}";

    public override string Kind => "logfile";

    private string FullPath => paths.Resolve(path);

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        var info = new FileInfo(FullPath);
        if (info.LinkTarget is not null || Directory.Exists(FullPath))
        {
            return new Observed(false, true, default, null);
        }

        return info.Exists
            ? new Observed(true, false, info.UnixFileMode, await Ownership.ReadAsync(runner, FullPath, ct))
            : new Observed(false, false, default, null);
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies)
    {
        if (observed.IsOtherType)
        {
            throw new ResourceFailedException($"{path} is a symlink or directory, not a log file; remove it, the agent will not replace it");
        }

        if (!observed.Exists)
        {
            return new Change($"create empty {path} ({UnixModes.Format(mode)} {ownership})");
        }

        var differences = new List<string>();
        if (observed.Mode != mode)
        {
            differences.Add($"mode {UnixModes.Format(observed.Mode)} -> {UnixModes.Format(mode)}");
        }

        if (observed.Ownership != ownership)
        {
            differences.Add($"owner {observed.Ownership} -> {ownership}");
        }

        return differences.Count == 0 ? null : new Change($"{path}: {string.Join(", ", differences)}");
    }

    public override async Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        // Append mode creates the file if missing and never truncates what a writer put there meanwhile.
        var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.ReadWrite, UnixCreateMode = mode };
        await using (new FileStream(FullPath, options))
        {
        }

        File.SetUnixFileMode(FullPath, mode);
        await ownership.ApplyAsync(runner, FullPath, ct);
        return null;
    }
}
