using System.Globalization;
using System.Net;
using System.Text;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.IO;
using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// One pg_hba.conf rule. Address is a canonical CIDR ("10.0.0.0/8", "::1/128") or all, samehost,
/// samenet for host rules and null for local ones. "trust" is not offered: every connection proves
/// who it is (peer, scram-sha-256, md5, cert) or is refused (reject).
/// </summary>
internal sealed record PgHbaRule(string Type, string Database, string User, string? Address, string Method);

internal sealed record PgHbaSpec(IReadOnlyList<PgHbaRule> Rules)
{
    private static readonly string[] Types = ["local", "host", "hostssl", "hostnossl"];
    private static readonly string[] Methods = ["peer", "scram-sha-256", "md5", "reject", "cert"];
    private static readonly string[] DatabaseKeywords = ["all", "sameuser", "samerole", "replication"];
    private static readonly string[] AddressKeywords = ["all", "samehost", "samenet"];

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        for (var i = 0; i < Rules.Count; i++)
        {
            var rule = Rules[i];
            var field = $"postgres.hba[{i}]";
            if (!Types.Contains(rule.Type, StringComparer.Ordinal))
            {
                errors.Add($"{field}.type: '{Grammar.Printable(rule.Type)}' must be one of {string.Join(", ", Types)}; fix the rule");
            }

            if (!IsList(rule.Database, name => DatabaseKeywords.Contains(name, StringComparer.Ordinal) || Grammar.IsDatabaseName(name)))
            {
                errors.Add($"{field}.database: '{Grammar.Printable(rule.Database)}' must be all, sameuser, samerole, replication or a comma-separated list of database names (letters, digits, '_', '-'); fix the rule");
            }

            if (!IsList(rule.User, name => name == "all" || Grammar.IsSqlIdentifier(name.StartsWith('+') ? name[1..] : name)))
            {
                errors.Add($"{field}.user: '{Grammar.Printable(rule.User)}' must be all or a comma-separated list of role names (lowercase identifiers, '+role' for members of a role); fix the rule");
            }

            var local = rule.Type == "local";
            if (local && rule.Address is not null)
            {
                errors.Add($"{field}.address: local rules match Unix-socket connections and take no address; remove '{Grammar.Printable(rule.Address)}'");
            }
            else if (!local && (rule.Address is null || CheckAddress(rule.Address) is not null))
            {
                var problem = rule.Address is null ? "is missing" : CheckAddress(rule.Address);
                errors.Add($"{field}.address: {problem}; host rules need a CIDR such as \"10.0.0.0/8\" or \"::1/128\", or all, samehost, samenet");
            }

            if (!Methods.Contains(rule.Method, StringComparer.Ordinal))
            {
                errors.Add($"{field}.method: '{Grammar.Printable(rule.Method)}' must be one of {string.Join(", ", Methods)} (trust is never allowed); fix the rule");
            }
            else if (rule.Method == "peer" && !local)
            {
                errors.Add($"{field}.method: peer works only for local (Unix-socket) rules; use scram-sha-256 for {Grammar.Printable(rule.Type)}");
            }
            else if (rule.Method == "cert" && rule.Type != "hostssl")
            {
                errors.Add($"{field}.method: cert works only for hostssl rules; change the type to hostssl");
            }
        }

        return errors;
    }

    private static bool IsList(string value, Func<string, bool> isItem) =>
        value.Length > 0 && value.Split(',').All(item => item.Length > 0 && isItem(item));

    /// <summary>Null when the address is fine, else what is wrong (with the canonical form when that is the only problem).</summary>
    private static string? CheckAddress(string address)
    {
        if (AddressKeywords.Contains(address, StringComparer.Ordinal))
        {
            return null;
        }

        if (!address.Contains('/', StringComparison.Ordinal) || !IPNetwork.TryParse(address, out var network))
        {
            return $"'{Grammar.Printable(address)}' is not an address/prefix";
        }

        var canonical = network.ToString();
        return canonical == address ? null : $"'{Grammar.Printable(address)}' is not in canonical form (write \"{canonical}\")";
    }
}

/// <summary>
/// The cluster's whole pg_hba.conf (its path from SHOW hba_file), rendered byte-stable; a line
/// added by hand is drift. Written atomically (".previous" kept), then checked by PostgreSQL
/// itself through pg_hba_file_rules: on any error the previous file goes back before the server
/// ever reloads, else pg_reload_conf(). Owner postgres:postgres, mode 0640.
/// </summary>
internal sealed class PgHbaResource : Resource<PgHbaResource.Observed>
{
    private static readonly Ownership PostgresOwnership = new(Psql.OsUser, Psql.OsUser);
    private const UnixFileMode Mode = FileModes.Mode0640;

    private readonly ICommandRunner runner;
    private readonly Psql psql;
    private readonly TimeProvider time;
    private readonly string text;
    private readonly byte[] content;

    public PgHbaResource(ICommandRunner runner, PostgresCluster cluster, TimeProvider time, PgHbaSpec spec)
        : this(runner, cluster, time, RenderValidated(cluster, spec))
    {
    }

    private PgHbaResource(ICommandRunner runner, PostgresCluster cluster, TimeProvider time, string text)
    {
        this.runner = runner;
        psql = new Psql(runner, cluster);
        this.time = time;
        this.text = text;
        content = Encoding.UTF8.GetBytes(text);
    }

    /// <summary>
    /// A resource for text that skipped the spec's validation, so tests can hand PostgreSQL a file
    /// it must reject (a rule the grammar would never let through).
    /// </summary>
    internal static PgHbaResource FromRenderedText(ICommandRunner runner, PostgresCluster cluster, TimeProvider time, string text) =>
        cluster.Validate() is { Count: > 0 } errors ? throw new SpecValidationException(errors) : new(runner, cluster, time, text);

    internal sealed record Observed(string Path, bool Exists, UnixFileMode Mode, Ownership? Ownership) : Observation
    {
        /// <summary>The current bytes; null when the file does not exist.</summary>
        public byte[]? Current { get; init; }
    }

    public override string Id => $"pg-hba:{psql.Cluster}";

    public override string Kind => "pg-hba";

    /// <summary>The file's text: header, the agent's own rule, then the spec's rules in order.</summary>
    public static string Render(PostgresCluster cluster, PgHbaSpec spec)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"# pg_hba.conf of PostgreSQL {cluster}, managed by OdooFleet: the agent rewrites this file\n");
        text.Append("# and reports lines added by hand as drift; change the host spec instead.\n");
        text.Append("# The first rule is the agent's own access (as postgres over the Unix socket).\n");
        text.Append("#\n");
        text.Append(Line("# TYPE", "DATABASE", "USER", "ADDRESS", "METHOD"));
        text.Append(Line("local", "all", Psql.OsUser, "", "peer"));
        foreach (var rule in spec.Rules)
        {
            text.Append(Line(rule.Type, rule.Database, rule.User, rule.Address ?? "", rule.Method));
        }

        return text.ToString();
    }

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        var rows = await psql.QueryAsync("SELECT current_setting('hba_file');\n", new Dictionary<string, string>(), 1, ct);
        var path = rows.Count == 1 ? rows[0][0] : "";
        if (!Grammar.IsSafeAbsolutePath(path))
        {
            throw new ResourceFailedException($"PostgreSQL {psql.Cluster} reports hba_file '{Grammar.Printable(path)}', which is not a plain absolute path; fix hba_file in postgresql.conf");
        }

        var info = new FileInfo(path);
        if (info.LinkTarget is not null)
        {
            throw new ResourceFailedException($"{path} is a symlink; the agent only manages a plain pg_hba.conf: replace the link with a file");
        }

        if (!info.Exists)
        {
            return new Observed(path, false, default, null);
        }

        var current = await File.ReadAllBytesAsync(path, ct);
        var owner = await Ownership.ReadAsync(runner, path, ct);
        return new Observed(path, true, info.UnixFileMode, owner) { Current = current };
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies)
    {
        var contentMatches = observed.Current is { } current && current.AsSpan().SequenceEqual(content);
        var differences = new List<string>();
        if (!observed.Exists)
        {
            differences.Add("create");
        }
        else if (!contentMatches)
        {
            differences.Add("content");
        }

        if (observed.Exists && observed.Mode != Mode)
        {
            differences.Add($"mode {UnixModes.Format(observed.Mode)} -> {UnixModes.Format(Mode)}");
        }

        if (observed.Exists && observed.Ownership != PostgresOwnership)
        {
            differences.Add($"owner {observed.Ownership} -> {PostgresOwnership}");
        }

        if (differences.Count == 0)
        {
            return null;
        }

        var currentText = observed.Current is { } bytes ? Encoding.UTF8.GetString(bytes) : "";
        return new HbaChange($"update {observed.Path}: {string.Join(", ", differences)}", observed, Rewrite: !contentMatches)
        {
            Detail = contentMatches ? null : TextDiff.Unified(observed.Path, currentText, text),
        };
    }

    public override async Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        var (_, before, rewrite) = (HbaChange)change;
        var path = before.Path;
        if (!rewrite)
        {
            File.SetUnixFileMode(path, Mode);
            await PostgresOwnership.ApplyAsync(runner, path, ct);
            return null;
        }

        await AtomicFile.WriteAsync(path, content, Mode, ct, (temp, token) => PostgresOwnership.ApplyAsync(runner, temp, token), keepPrevious: true);

        // pg_hba_file_rules parses the file on disk now; the server keeps the old rules until a reload.
        var errors = await psql.QueryAsync(
            "SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL ORDER BY line_number;\n",
            new Dictionary<string, string>(), 2, ct);
        if (errors.Count > 0)
        {
            await RestoreAsync(before, ct);
            var lines = text.Split('\n');
            var detail = errors.Select(row =>
                int.TryParse(row[0], CultureInfo.InvariantCulture, out var n) && n >= 1 && n <= lines.Length
                    ? $"line {n} `{Grammar.Printable(lines[n - 1])}`: {row[1]}"
                    : $"line {row[0]}: {row[1]}");
            throw new ResourceFailedException(
                $"PostgreSQL rejected the new {path} ({string.Join("; ", detail)}); the previous file is back and the server was not reloaded: fix the rule in the host spec");
        }

        await psql.ReloadAsync(time, ct);
        return $"{change.Description}; reloaded PostgreSQL {psql.Cluster}";
    }

    /// <summary>Puts back what was there before the write (the same bytes ".previous" now holds).</summary>
    private async Task RestoreAsync(Observed before, CancellationToken ct)
    {
        if (before.Current is null)
        {
            File.Delete(before.Path);
            return;
        }

        var owner = before.Ownership;
        await AtomicFile.WriteAsync(
            before.Path, before.Current, before.Mode, ct,
            owner is null ? null : (temp, token) => owner.ApplyAsync(runner, temp, token));
    }

    private static string RenderValidated(PostgresCluster cluster, PgHbaSpec spec)
    {
        var errors = cluster.Validate().Concat(spec.Validate()).ToList();
        return errors.Count > 0 ? throw new SpecValidationException(errors) : Render(cluster, spec);
    }

    /// <summary>Debian's column widths; a long value still gets one space before the next column.</summary>
    private static string Line(string type, string database, string user, string address, string method) =>
        Column(type, 8) + Column(database, 16) + Column(user, 16) + Column(address, 24) + method + "\n";

    private static string Column(string value, int width) => value.Length >= width ? value + " " : value.PadRight(width);

    private sealed record HbaChange(string Description, Observed Before, bool Rewrite) : Change(Description);
}
