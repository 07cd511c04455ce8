using System.Globalization;
using System.IO.Enumeration;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Metrics;

/// <summary>One tenant's database (pg_database_size) and filestore, in bytes.</summary>
internal sealed record TenantSize(string Name, long DatabaseBytes, long FilestoreBytes);

/// <summary>
/// Measures tenants: every database's size in one query to the local cluster (as the postgres OS
/// user), and each filestore (Odoo's data_dir/filestore/&lt;database&gt;) by adding up the lengths
/// of its regular files. No symbolic link is followed or counted, the filestore's own path included
/// (as `du -P`): a link out of the filestore neither inflates the size nor leads the walk elsewhere.
/// </summary>
internal sealed class TenantSizeMeter(ICommandRunner runner, HostPaths paths, OdooLayout layout)
{
    private static readonly EnumerationOptions WalkOptions = new()
    {
        RecurseSubdirectories = true,
        IgnoreInaccessible = true,
        // The default skips hidden (dot) files, which take space like any other.
        AttributesToSkip = 0,
    };

    /// <summary>
    /// The sizes of the tenants whose database exists in <paramref name="cluster"/> (by database name;
    /// a tenant whose database is not created yet is left out). Names must be valid database names.
    /// </summary>
    public async Task<IReadOnlyList<TenantSize>> MeasureAsync(
        PostgresCluster cluster, IReadOnlyDictionary<string, string> tenantByDatabase, CancellationToken ct)
    {
        var bad = tenantByDatabase.Keys.FirstOrDefault(d => !Grammar.IsDatabaseName(d));
        if (bad is not null)
        {
            throw new ArgumentException($"'{Grammar.Printable(bad)}' is not a database name", nameof(tenantByDatabase));
        }

        if (tenantByDatabase.Count == 0)
        {
            return [];
        }

        // Database names have no comma (Grammar.IsDatabaseName), so one psql variable carries them all.
        var rows = await new Psql(runner, cluster).QueryAsync(
            "SELECT datname, pg_database_size(oid) FROM pg_database WHERE datname = ANY (string_to_array(:'names', ',')) ORDER BY 1;\n",
            new Dictionary<string, string> { ["names"] = string.Join(',', tenantByDatabase.Keys) },
            2,
            ct);
        var sizes = new List<TenantSize>(rows.Count);
        foreach (var row in rows)
        {
            ct.ThrowIfCancellationRequested();
            var database = row[0];
            sizes.Add(new TenantSize(
                tenantByDatabase[database],
                long.Parse(row[1], NumberStyles.None, CultureInfo.InvariantCulture),
                FilestoreBytes(paths.Resolve($"{layout.DataDir}/filestore/{database}"))));
        }

        return sizes;
    }

    /// <summary>Bytes of the regular files under <paramref name="directory"/>; 0 when it is missing or itself a symbolic link.</summary>
    public static long FilestoreBytes(string directory)
    {
        var top = new DirectoryInfo(directory);
        if (top.LinkTarget is not null || !top.Exists)
        {
            return 0;
        }

        var lengths = new FileSystemEnumerable<long>(directory, (ref FileSystemEntry entry) => entry.Length, WalkOptions)
        {
            ShouldIncludePredicate = (ref FileSystemEntry entry) => !entry.IsDirectory && !IsLink(ref entry),
            ShouldRecursePredicate = (ref FileSystemEntry entry) => !IsLink(ref entry),
        };
        return lengths.Sum();
    }

    private static bool IsLink(ref FileSystemEntry entry) => (entry.Attributes & FileAttributes.ReparsePoint) != 0;
}
