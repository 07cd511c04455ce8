using System.Globalization;
using System.Text.RegularExpressions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// A local PostgreSQL cluster as Debian's postgresql-common names it: /etc/postgresql/VERSION/NAME,
/// served on Port (the agent reaches it over the Unix socket of that port).
/// </summary>
internal sealed partial record PostgresCluster(string Version, string Name, int Port)
{
    /// <summary>What Debian 12's postgresql package creates.</summary>
    public static readonly PostgresCluster Default = new("15", "main", 5432);

    public override string ToString() => $"{Version}/{Name}";

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!VersionPattern().IsMatch(Version))
        {
            errors.Add($"postgres.cluster.version: '{Grammar.Printable(Version)}' is not a PostgreSQL major version (e.g. \"15\", \"9.6\"); fix the host's PostgreSQL version");
        }

        // pg_ctlcluster takes the name as a positional argument: it must not look like an option.
        if (!Grammar.IsUnixName(Name))
        {
            errors.Add($"postgres.cluster.name: '{Grammar.Printable(Name)}' must be lowercase letters, digits, '_' or '-', starting with a letter or '_' (e.g. \"main\"); fix the host's cluster name");
        }

        if (SpecValidator.CheckPort("postgres.cluster.port", Port) is { } port)
        {
            errors.Add(port);
        }

        return errors;
    }

    /// <summary>9.6 and older had two-part majors, 10 and later one number.</summary>
    [GeneratedRegex(@"^(?:[1-9]\.[0-9]|[1-9][0-9])\z")]
    private static partial Regex VersionPattern();
}

/// <summary>
/// Runs SQL against the local cluster as the postgres OS user (peer authentication), with psql
/// reading the script from stdin. Values travel as psql variables (-v name=value, used as
/// :'name' for literals and :"name" for identifiers), so psql quotes them and no value is ever
/// spliced into SQL text. Also reloads and restarts the cluster.
/// </summary>
internal sealed partial class Psql(ICommandRunner runner, PostgresCluster cluster, string database = "postgres")
{
    public const string OsUser = "postgres";

    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan ReloadDeadline = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ReloadPollInterval = TimeSpan.FromMilliseconds(50);
    private static readonly IReadOnlyDictionary<string, string> Empty = new Dictionary<string, string>();

    public PostgresCluster Cluster => cluster;

    /// <summary>The same cluster, connected to another database (names are checked by the caller).</summary>
    public Psql In(string otherDatabase) => new(runner, cluster, otherDatabase);

    /// <summary>
    /// Runs <paramref name="sql"/> and returns the rows of its output (all statements'), each with
    /// exactly <paramref name="columns"/> fields; psql prints NULL as an empty field and booleans as t/f.
    /// </summary>
    public Task<IReadOnlyList<string[]>> QueryAsync(
        string sql, IReadOnlyDictionary<string, string> variables, int columns, CancellationToken ct) =>
        QueryAsync(sql, variables, columns, DefaultTimeout, ct);

    public async Task<IReadOnlyList<string[]>> QueryAsync(
        string sql, IReadOnlyDictionary<string, string> variables, int columns, TimeSpan timeout, CancellationToken ct)
    {
        var stdout = await RunAsync(sql, variables, timeout, ct);

        // Every row ends with '\n' (an empty value is an empty line); a query without rows prints nothing.
        var text = stdout.EndsWith('\n') ? stdout[..^1] : stdout;
        List<string[]> rows = stdout.Length == 0 ? [] : [.. text.Split('\n').Select(line => line.Split('\t'))];
        var bad = rows.FirstOrDefault(row => row.Length != columns);
        return bad is null
            ? rows
            : throw new CommandFailedException(
                $"psql on PostgreSQL {cluster} returned a row of {bad.Length} fields where {columns} were expected (a value containing a tab or newline?)");
    }

    /// <summary>Runs statements whose output does not matter (DDL, ALTER SYSTEM); autocommit, so CREATE DATABASE works.</summary>
    public async Task ExecuteAsync(string sql, IReadOnlyDictionary<string, string> variables, TimeSpan timeout, CancellationToken ct) =>
        await RunAsync(sql, variables, timeout, ct);

    public Task ExecuteAsync(string sql, IReadOnlyDictionary<string, string> variables, CancellationToken ct) =>
        ExecuteAsync(sql, variables, DefaultTimeout, ct);

    /// <summary>
    /// pg_reload_conf(), then waits until the postmaster has re-read its files: the signal is
    /// asynchronous, and a backend forked before that still has the old values. New backends
    /// inherit the postmaster's pg_conf_load_time(), so a later one proves the reload happened.
    /// </summary>
    public async Task ReloadAsync(TimeProvider time, CancellationToken ct)
    {
        var rows = await QueryAsync(
            "SELECT extract(epoch FROM pg_conf_load_time())::text;\nSELECT pg_reload_conf();\n", Empty, 1, ct);
        var before = rows[0][0];
        var started = time.GetTimestamp();
        var variables = new Dictionary<string, string> { ["before"] = before };
        while (true)
        {
            var now = await QueryAsync("SELECT extract(epoch FROM pg_conf_load_time()) > :'before'::numeric;\n", variables, 1, ct);
            if (now[0][0] == "t")
            {
                return;
            }

            if (time.GetElapsedTime(started) >= ReloadDeadline)
            {
                throw new ResourceFailedException(
                    $"PostgreSQL {cluster} did not reload its configuration within {ReloadDeadline.TotalSeconds:0} s; see /var/log/postgresql/postgresql-{cluster.Version}-{cluster.Name}.log");
            }

            await Task.Delay(ReloadPollInterval, time, ct);
        }
    }

    /// <summary>
    /// Restarts the cluster with Debian's pg_ctlcluster (it delegates to systemctl when systemd
    /// runs, else drives pg_ctl itself) and waits until it accepts connections again.
    /// </summary>
    public async Task RestartAsync(CancellationToken ct)
    {
        // pg_ctlcluster reads "--" as the start of pg_ctl's options, so the (grammar-checked) names go without it.
        var spec = new CommandSpec("pg_ctlcluster", [cluster.Version, cluster.Name, "restart"])
        {
            Timeout = TimeSpan.FromMinutes(5),
            WorkingDirectory = "/",
        };
        var result = await runner.RunAsync(spec, ct);
        if (!result.Succeeded)
        {
            throw new ResourceFailedException(
                $"{result.Describe(spec)}; the new values are in postgresql.auto.conf (ALTER SYSTEM): see /var/log/postgresql/postgresql-{cluster.Version}-{cluster.Name}.log, fix the value and start the cluster with `pg_ctlcluster {cluster.Version} {cluster.Name} start`");
        }
    }

    private async Task<string> RunAsync(string sql, IReadOnlyDictionary<string, string> variables, TimeSpan timeout, CancellationToken ct)
    {
        List<string> arguments =
        [
            "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
            "-p", cluster.Port.ToString(CultureInfo.InvariantCulture), "-d", database,
        ];
        foreach (var (name, value) in variables)
        {
            // Names are ours (constants in the resources); psql would treat other shapes as its own settings.
            if (!VariableNamePattern().IsMatch(name))
            {
                throw new ArgumentException($"psql variable name '{name}' must be lowercase letters, digits and '_'", nameof(variables));
            }

            arguments.Add("-v");
            arguments.Add($"{name}={value}");
        }

        arguments.Add("-f");
        arguments.Add("-");

        // cwd "/" because the postgres user cannot enter root's home, which psql would complain about.
        var spec = new CommandSpec("psql", arguments) { StandardInput = sql, Timeout = timeout, WorkingDirectory = "/" }.AsUser(OsUser);
        var result = await runner.RunAsync(spec, ct);
        if (result.Succeeded)
        {
            return result.Stdout;
        }

        // Never result.Describe(spec): the arguments hold the variables' values (a password verifier among them).
        var detail = Clean(result.Stderr);
        throw new CommandFailedException(result switch
        {
            { TimedOut: true } => $"psql on PostgreSQL {cluster} timed out after {timeout.TotalSeconds:0} s",
            { ExitCode: CommandResult.NotFoundExitCode } => $"cannot run psql as {OsUser} for PostgreSQL {cluster}: {detail}; install postgresql-client",
            { ExitCode: 2 } => $"cannot connect to PostgreSQL {cluster} on port {cluster.Port} as {OsUser}: {detail}; is the cluster running (`pg_lsclusters`)?",
            _ => $"PostgreSQL {cluster}: {detail}",
        });
    }

    /// <summary>
    /// psql's error without its "psql:&lt;stdin&gt;:N:" prefixes and without the echoed statement
    /// ("LINE n: …" and the caret), which would repeat interpolated values; one line, bounded.
    /// </summary>
    private static string Clean(string stderr)
    {
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => StdinPrefixPattern().Replace(line, ""))
            .Where(line => !line.StartsWith("LINE ", StringComparison.Ordinal) && line.Trim('^', ' ').Length > 0)
            .ToList();
        var text = string.Join(" ", lines);
        return text.Length == 0 ? "(no message)" : Grammar.Printable(text, 600);
    }

    [GeneratedRegex(@"^[a-z][a-z0-9_]*\z")]
    private static partial Regex VariableNamePattern();

    [GeneratedRegex(@"^psql:<stdin>:\d+: ")]
    private static partial Regex StdinPrefixPattern();
}
