using System.Globalization;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Release;

/// <summary>
/// The Odoo databases of the local cluster (owned by the Odoo role, with an ir_module_module table),
/// their installed modules, and their backup and restore with pg_dump -Fc / pg_restore --create,
/// run as the postgres OS user (peer authentication); the dump file is written and read by the
/// agent (stdout/stdin), so it can live in the agent's private directory.
/// </summary>
internal sealed class OdooDatabases(ICommandRunner runner, Psql postgres)
{
    public TimeSpan DumpTimeout { get; init; } = TimeSpan.FromHours(2);

    private string Port => postgres.Cluster.Port.ToString(CultureInfo.InvariantCulture);

    public async Task<IReadOnlyList<string>> ListAsync(string owner, CancellationToken ct)
    {
        var rows = await postgres.QueryAsync(
            """
            SELECT d.datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba
            WHERE r.rolname = :'owner' AND d.datallowconn AND NOT d.datistemplate ORDER BY 1;
            """,
            new Dictionary<string, string> { ["owner"] = owner }, 1, ct);
        var databases = new List<string>();
        foreach (var name in rows.Select(row => row[0]))
        {
            if (!Grammar.IsDatabaseName(name))
            {
                throw new ResourceFailedException(
                    $"database '{Grammar.Printable(name)}' (owned by {owner}) has a name Odoo does not allow (letters, digits, '_' and '-'); rename it or change its owner before a release change");
            }

            var isOdoo = await postgres.In(name).QueryAsync("SELECT to_regclass('public.ir_module_module') IS NOT NULL;\n", new Dictionary<string, string>(), 1, ct);
            if (isOdoo.Count == 1 && isOdoo[0][0] == "t")
            {
                databases.Add(name);
            }
        }

        return databases;
    }

    /// <summary>Installed modules and their recorded version (empty when Odoo recorded none).</summary>
    public async Task<IReadOnlyDictionary<string, string>> InstalledModulesAsync(string database, CancellationToken ct)
    {
        var rows = await postgres.In(database).QueryAsync(
            "SELECT name, coalesce(latest_version, '') FROM ir_module_module WHERE state = 'installed' ORDER BY name;\n",
            new Dictionary<string, string>(), 2, ct);
        return rows.ToDictionary(row => row[0], row => row[1], StringComparer.Ordinal);
    }

    public async Task DumpAsync(string database, string file, CancellationToken ct)
    {
        var command = new CommandSpec("pg_dump", ["-Fc", "-p", Port, $"--dbname={database}"])
        {
            Timeout = DumpTimeout,
            WorkingDirectory = "/",
            StandardOutputPath = file,
        }.AsUser(Psql.OsUser);
        var result = await runner.RunAsync(command, ct);
        if (!result.Succeeded)
        {
            IO.AtomicFile.TryDelete(file);
            throw new CommandFailedException($"backup of database {database} failed: {result.Describe(command)}");
        }
    }

    /// <summary>Replaces <paramref name="database"/> with the content of <paramref name="file"/> (dropped, re-created from the dump).</summary>
    public async Task RestoreAsync(string database, string file, CancellationToken ct)
    {
        // --force: Odoo is stopped, but a cron or a shell may still hold a connection.
        await runner.RunCheckedAsync(
            new CommandSpec("dropdb", ["--force", "--if-exists", "-p", Port, "--", database]) { Timeout = TimeSpan.FromMinutes(5), WorkingDirectory = "/" }.AsUser(Psql.OsUser),
            ct);
        var restore = new CommandSpec("pg_restore", ["--create", "--exit-on-error", "-Fc", "-p", Port, "--dbname=postgres"])
        {
            Timeout = DumpTimeout,
            WorkingDirectory = "/",
            StandardInputPath = file,
        }.AsUser(Psql.OsUser);
        var result = await runner.RunAsync(restore, ct);
        if (!result.Succeeded)
        {
            throw new CommandFailedException($"restore of database {database} from {file} failed: {result.Describe(restore)}");
        }
    }

    /// <summary>The backup directories to delete so that only the newest <paramref name="keep"/> remain (by time, then name).</summary>
    public static IReadOnlyList<string> ToPrune(IEnumerable<(string Name, DateTimeOffset Time)> directories, int keep) =>
        directories
            .OrderByDescending(d => d.Time)
            .ThenByDescending(d => d.Name, StringComparer.Ordinal)
            .Skip(keep)
            .Select(d => d.Name)
            .ToList();
}
