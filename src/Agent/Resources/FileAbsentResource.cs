using OdooFleet.Agent.Engine;
using OdooFleet.Agent.IO;
using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// A path that must not exist, e.g. /etc/nginx/sites-enabled/default (a symlink on Debian).
/// Removes a file or a symlink (never what it points to); refuses directories, which may hold
/// anything. No ".previous" copy: in a directory read by a glob (sites-enabled/*) the copy would
/// be loaded just like the original.
/// </summary>
internal sealed class FileAbsentResource : Resource<FileAbsentResource.Observed>
{
    private readonly HostPaths paths;
    private readonly string path;

    public FileAbsentResource(HostPaths paths, string path)
    {
        if (!Grammar.IsSafeAbsolutePath(path) || path.EndsWith('/'))
        {
            throw new SpecValidationException(
                [$"absent.path: '{Grammar.Printable(path)}' must be an absolute path of letters, digits and ._+@:/- without '..', '//' or a trailing '/'; name the one file or symlink to remove"]);
        }

        (this.paths, this.path) = (paths, path);
    }

    internal enum EntryType
    {
        Absent,
        File,
        Symlink,
        Directory,
    }

    internal sealed record Observed(EntryType Type, string? LinkTarget) : Observation;

    public override string Id => $"absent:{path}";

    public override string Kind => "absent";

    private string FullPath => paths.Resolve(path);

    protected override Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        // lstat semantics: a symlink is judged as a link, even when dangling or pointing at a directory.
        var info = new FileInfo(FullPath);
        Observed observed = info.LinkTarget is { } target
            ? new(EntryType.Symlink, target)
            : Directory.Exists(FullPath) ? new(EntryType.Directory, null)
            : info.Exists ? new(EntryType.File, null)
            : new(EntryType.Absent, null);
        return Task.FromResult(observed);
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies) => observed.Type switch
    {
        EntryType.Absent => null,
        EntryType.File => new Change($"remove file {path}"),
        EntryType.Symlink => new Change($"remove symlink {path} (-> {observed.LinkTarget})"),
        _ => throw new ResourceFailedException($"{path} is a directory; the agent only removes files and symlinks, move it away by hand"),
    };

    public override Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        // unlink(2): a symlink goes, not its target; a socket or pipe left at the path goes too.
        File.Delete(FullPath);
        Native.FsyncDirectory(Path.GetDirectoryName(FullPath)!);
        return Task.FromResult<string?>(null);
    }
}
