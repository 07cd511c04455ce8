using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Drift;

/// <summary>
/// What the monitor watches for one applied generation: the files behind resources (by their
/// rooted path) and the systemd units of service resources. Ignored resources are never watched.
/// </summary>
internal sealed record DriftTargets(
    long Generation,
    IReadOnlyDictionary<string, IReadOnlyList<string>> ResourcesByPath,
    IReadOnlyDictionary<string, string> ResourceByUnit)
{
    public static readonly DriftTargets None = new(
        0, new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal), new Dictionary<string, string>(StringComparer.Ordinal));

    /// <summary>The directories to watch (parents of the watched files).</summary>
    public IReadOnlyList<string> Directories =>
        ResourcesByPath.Keys.Select(p => Path.GetDirectoryName(p)!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    public static DriftTargets For(long generation, IReadOnlyList<IResource> resources, HostPaths paths, DriftPolicy policy)
    {
        var byPath = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var byUnit = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var resource in resources.Where(r => !policy.IsIgnored(r.Id)))
        {
            if (WatchedPath(resource) is { } path)
            {
                var full = paths.Resolve(path);
                if (!byPath.TryGetValue(full, out var ids))
                {
                    byPath[full] = ids = [];
                }

                ids.Add(resource.Id);
            }

            if (resource.Kind == "service")
            {
                byUnit[Name(resource.Id)] = resource.Id;
            }
        }

        return new DriftTargets(
            generation,
            byPath.ToDictionary(p => p.Key, p => (IReadOnlyList<string>)p.Value, StringComparer.Ordinal),
            byUnit);
    }

    /// <summary>
    /// The declared path whose changes may mean drift of <paramref name="resource"/>, or null for
    /// kinds found only by the periodic re-observe (packages, users, PostgreSQL settings, ufw...).
    /// Log files and directories are left out: Odoo writes its log all the time.
    /// </summary>
    public static string? WatchedPath(IResource resource) => resource.Kind switch
    {
        "file" or "absent" or "symlink" or "sysctl" => Name(resource.Id),
        // Debian's layout (what SHOW hba_file answers there); the resource reads the same file.
        "pg-hba" => $"/etc/postgresql/{Name(resource.Id)}/pg_hba.conf",
        _ => null,
    };

    private static string Name(string id) => id[(id.IndexOf(':', StringComparison.Ordinal) + 1)..];
}
