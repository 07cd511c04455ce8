using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Profiles;

/// <summary>How Odoo reaches PostgreSQL (SEED-ERRATA #21): local peer authentication or a remote server.</summary>
internal abstract record OdooDatabase;

/// <summary>PostgreSQL on this host over its Unix socket, peer-authenticated as the system user of the same name.</summary>
internal sealed record LocalPeerDatabase(string User) : OdooDatabase;

/// <summary>A remote PostgreSQL over TCP with a password and an sslmode.</summary>
/// <summary>A remote PostgreSQL; a null password means none in odoo.conf (client certificate or ~/.pgpass auth).</summary>
internal sealed record RemoteDatabase(string Host, int Port, string User, string? Password, string SslMode) : OdooDatabase
{
    /// <summary>The password never reaches logs or exception messages.</summary>
    public override string ToString() => $"RemoteDatabase {{ Host = {Host}, Port = {Port}, User = {User}, SslMode = {SslMode} }}";
}

/// <summary>Everything /etc/odoo.conf is rendered from; <see cref="OdooConfRenderer.Validate"/> checks all of it.</summary>
internal sealed record OdooConfInput
{
    public required int HttpPort { get; init; }
    public required int GeventPort { get; init; }
    public required string DataDir { get; init; }
    public required string LogFile { get; init; }
    public string LogLevel { get; init; } = "info";

    /// <summary>A regex over database names; see <see cref="OdooConfRenderer.DbFilterForDatabases"/> and the %d/%h constants.</summary>
    public required string DbFilter { get; init; }

    /// <summary>A passlib pbkdf2-sha512 hash (<see cref="AdminPassword"/>), never the clear password.</summary>
    public required string AdminPasswordHash { get; init; }

    /// <summary>The release's addons directories, in Odoo's search order.</summary>
    public required IReadOnlyList<string> AddonsPaths { get; init; }

    public required OdooDatabase Database { get; init; }
    public required TuningPlan Tuning { get; init; }

    /// <summary>Operator overrides (key -> value) for Odoo 18 options the profile does not own.</summary>
    public IReadOnlyDictionary<string, string> Overrides { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);
}

/// <summary>
/// Renders /etc/odoo.conf. Only options Odoo 18 knows are ever written (SEED-ERRATA #2, #3): stock Odoo
/// silently ignores unknown keys, so a typo would look applied and do nothing. Odoo reads the file with
/// Python's RawConfigParser: a newline in a value would start a new key or section, and a duplicate key
/// makes Odoo refuse to start, so every value is checked and every key written once.
/// </summary>
internal static partial class OdooConfRenderer
{
    public const string Header = "; Managed by odoofleet-agent: local changes are put back on the next converge.";

    /// <summary>One database per domain's first label: db "acme" answers acme.example.com.</summary>
    public const string DbFilterByDomain = "^%d$";

    /// <summary>One database per full host name.</summary>
    public const string DbFilterByHost = "^%h$";

    public const string RedactedValue = "<redacted>";

    /// <summary>Options of odoo/tools/config.py in Odoo 18 that may appear in the file.</summary>
    public static readonly IReadOnlySet<string> KnownOptions = new HashSet<string>(StringComparer.Ordinal)
    {
        "addons_path", "admin_passwd", "csv_internal_sep", "data_dir", "db_host", "db_maxconn",
        "db_maxconn_gevent", "db_name", "db_password", "db_port", "db_replica_host", "db_replica_port",
        "db_sslmode", "db_template", "db_user", "dbfilter", "email_from", "from_filter", "gevent_port",
        "geoip_city_db", "geoip_country_db", "http_enable", "http_interface", "http_port", "import_partial",
        "limit_memory_hard", "limit_memory_hard_gevent", "limit_memory_soft", "limit_memory_soft_gevent",
        "limit_request", "limit_time_cpu", "limit_time_real", "limit_time_real_cron", "limit_time_worker_cron",
        "list_db", "log_db", "log_db_level", "log_handler", "log_level", "logfile", "max_cron_threads",
        "osv_memory_count_limit", "pg_path", "pidfile", "proxy_mode", "reportgz", "server_wide_modules",
        "smtp_password", "smtp_port", "smtp_server", "smtp_ssl", "smtp_ssl_certificate_filename",
        "smtp_ssl_private_key_filename", "smtp_user", "syslog", "transient_age_limit", "unaccent",
        "upgrade_path", "websocket_keep_alive_timeout", "websocket_rate_limit_burst",
        "websocket_rate_limit_delay", "without_demo", "workers", "x_sendfile",
    };

    /// <summary>Odoo 18's --log-level choices (SEED-ERRATA #12: "info_rpc" is not one).</summary>
    public static readonly IReadOnlySet<string> LogLevels = new HashSet<string>(StringComparer.Ordinal)
    {
        "debug", "debug_rpc", "debug_rpc_answer", "debug_sql", "info", "warn", "error", "critical", "test", "runbot", "notset",
    };

    /// <summary>libpq's sslmode values, which Odoo 18 also restricts db_sslmode to.</summary>
    public static readonly IReadOnlySet<string> SslModes = new HashSet<string>(StringComparer.Ordinal)
    {
        "disable", "allow", "prefer", "require", "verify-ca", "verify-full",
    };

    /// <summary>Keys whose values are secrets: blanked in diffs.</summary>
    public static readonly IReadOnlySet<string> SecretOptions = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "admin_passwd", "db_password", "smtp_password",
    };

    /// <summary>Known options operators may not override, and why (the profile owns them for safety or derives them).</summary>
    public static readonly IReadOnlyDictionary<string, string> OwnedOptions = BuildOwnedOptions();

    /// <summary>The renders of a few profile-written keys that an override replaces in place (no duplicate keys).</summary>
    private static readonly HashSet<string> ReplaceableTuningOptions = new HashSet<string>(StringComparer.Ordinal)
    {
        "limit_time_cpu", "limit_time_real", "limit_time_real_cron", "limit_request",
    };

    private enum ValueKind
    {
        Text,
        Path,
        PathList,
        ModuleList,
        Bool,
        Int,
        Float,
    }

    private static readonly Dictionary<string, (ValueKind Kind, long Min, long Max)> OverrideKinds =
        new(StringComparer.Ordinal)
        {
            ["limit_time_cpu"] = (ValueKind.Int, 1, int.MaxValue),
            ["limit_time_real"] = (ValueKind.Int, 1, int.MaxValue),
            ["limit_time_real_cron"] = (ValueKind.Int, -1, int.MaxValue),
            ["limit_time_worker_cron"] = (ValueKind.Int, 0, int.MaxValue),
            ["limit_request"] = (ValueKind.Int, 1, int.MaxValue),
            ["osv_memory_count_limit"] = (ValueKind.Int, 0, int.MaxValue),
            ["smtp_port"] = (ValueKind.Int, 1, 65535),
            ["websocket_keep_alive_timeout"] = (ValueKind.Int, 1, int.MaxValue),
            ["websocket_rate_limit_burst"] = (ValueKind.Int, 1, int.MaxValue),
            ["transient_age_limit"] = (ValueKind.Float, 0, int.MaxValue),
            ["websocket_rate_limit_delay"] = (ValueKind.Float, 0, int.MaxValue),
            ["reportgz"] = (ValueKind.Bool, 0, 0),
            ["smtp_ssl"] = (ValueKind.Bool, 0, 0),
            ["unaccent"] = (ValueKind.Bool, 0, 0),
            ["geoip_city_db"] = (ValueKind.Path, 0, 0),
            ["geoip_country_db"] = (ValueKind.Path, 0, 0),
            ["import_partial"] = (ValueKind.Path, 0, 0),
            ["pg_path"] = (ValueKind.Path, 0, 0),
            ["pidfile"] = (ValueKind.Path, 0, 0),
            ["smtp_ssl_certificate_filename"] = (ValueKind.Path, 0, 0),
            ["smtp_ssl_private_key_filename"] = (ValueKind.Path, 0, 0),
            ["upgrade_path"] = (ValueKind.PathList, 0, 0),
            ["server_wide_modules"] = (ValueKind.ModuleList, 0, 0),
        };

    /// <summary>A dbfilter that admits exactly these databases (sorted, so the file is byte-stable).</summary>
    public static string DbFilterForDatabases(IEnumerable<string> databases)
    {
        var names = databases.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var bad = names.FirstOrDefault(name => !Grammar.IsDatabaseName(name));
        if (names.Count == 0 || bad is not null)
        {
            throw new SpecValidationException([names.Count == 0
                ? "odoo.databases: is empty; a dbfilter needs at least one database name"
                : $"odoo.databases: '{Grammar.Printable(bad!)}' is not a database name (letters, digits, _ and -, at most 63); fix the tenant's database"]);
        }

        // Database names are letters, digits, '_' and '-': nothing in them is special to a regex.
        return names.Count == 1 ? $"^{names[0]}$" : $"^(?:{string.Join('|', names)})$";
    }

    /// <summary>All problems of <paramref name="input"/>, empty when it can be rendered.</summary>
    public static IReadOnlyList<string> Validate(OdooConfInput input)
    {
        var errors = new List<string>();
        void Add(string? error)
        {
            if (error is not null)
            {
                errors.Add(error);
            }
        }

        Add(SpecValidator.CheckPort("odoo.http_port", input.HttpPort));
        Add(SpecValidator.CheckPort("odoo.gevent_port", input.GeventPort));
        if (input.HttpPort == input.GeventPort)
        {
            errors.Add($"odoo.gevent_port: {input.GeventPort} equals odoo.http_port; the two must differ (defaults 8069 and 8072)");
        }

        Add(CheckPath("odoo.data_dir", input.DataDir));
        Add(CheckPath("odoo.logfile", input.LogFile));
        if (!LogLevels.Contains(input.LogLevel))
        {
            errors.Add($"odoo.log_level: '{Grammar.Printable(input.LogLevel)}' is not an Odoo 18 log level "
                + $"({string.Join(", ", LogLevels)}); use one of them (\"info\" for production)");
        }

        Add(CheckDbFilter(input.DbFilter));
        Add(AdminPassword.CheckHash("odoo.admin_passwd", input.AdminPasswordHash));
        if (input.AddonsPaths.Count == 0)
        {
            errors.Add("odoo.addons_path: is empty; list the release's addons directories (e.g. <release>/odoo/addons, <release>/addons)");
        }

        for (var i = 0; i < input.AddonsPaths.Count; i++)
        {
            Add(CheckPath($"odoo.addons_path[{i}]", input.AddonsPaths[i]));
        }

        if (input.AddonsPaths.Distinct(StringComparer.Ordinal).Count() != input.AddonsPaths.Count)
        {
            errors.Add("odoo.addons_path: lists a directory twice; list each addons directory once");
        }

        errors.AddRange(CheckDatabase(input.Database));
        foreach (var (key, value) in input.Overrides.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            Add(CheckOverride(key, value));
        }

        return errors;
    }

    /// <summary>The file's bytes-to-be, in a fixed order; throws <see cref="SpecValidationException"/> on invalid input.</summary>
    public static string Render(OdooConfInput input)
    {
        var errors = Validate(input);
        if (errors.Count > 0)
        {
            throw new SpecValidationException(errors);
        }

        var options = new List<KeyValuePair<string, string>>
        {
            new("http_interface", "127.0.0.1"),
            new("http_port", Text(input.HttpPort)),
            new("gevent_port", Text(input.GeventPort)),
            new("proxy_mode", "True"),
            new("data_dir", input.DataDir),
            new("logfile", input.LogFile),
            new("log_level", input.LogLevel),
            new("list_db", "False"),
            new("without_demo", "all"),
            new("dbfilter", input.DbFilter),
            new("admin_passwd", input.AdminPasswordHash),
            new("addons_path", string.Join(',', input.AddonsPaths)),
        };
        options.AddRange(DatabaseOptions(input.Database));
        options.AddRange(input.Tuning.OdooOptions.Select(option =>
            ReplaceableTuningOptions.Contains(option.Key) && input.Overrides.TryGetValue(option.Key, out var value)
                ? new KeyValuePair<string, string>(option.Key, value)
                : option));

        var text = new StringBuilder();
        text.Append(Header).Append('\n').Append("[options]\n");
        Append(text, options);
        var extra = input.Overrides
            .Where(pair => !ReplaceableTuningOptions.Contains(pair.Key))
            .OrderBy(pair => pair.Key, StringComparer.Ordinal)
            .ToList();
        if (extra.Count > 0)
        {
            text.Append("; operator overrides\n");
            Append(text, extra);
        }

        return text.ToString();
    }

    /// <summary>
    /// Blanks secret values (admin_passwd, db_password, smtp_password) for diffs, in our file or a hand-edited one:
    /// keys in any case, '=' or ':' as delimiter, and indented continuation lines of a secret value.
    /// </summary>
    public static string Redact(string text)
    {
        var lines = text.Split('\n');
        var inSecret = false;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (inSecret && line.Length > 0 && char.IsWhiteSpace(line[0]) && line.Trim().Length > 0)
            {
                lines[i] = "    " + RedactedValue;
                continue;
            }

            inSecret = false;
            var match = OptionLinePattern().Match(line);
            if (match.Success && SecretOptions.Contains(match.Groups["key"].Value.Trim()))
            {
                lines[i] = $"{match.Groups["key"].Value.Trim()} {match.Groups["delimiter"].Value} {RedactedValue}";
                inSecret = true;
            }
        }

        return string.Join('\n', lines);
    }

    private static void Append(StringBuilder text, IEnumerable<KeyValuePair<string, string>> options)
    {
        foreach (var (key, value) in options)
        {
            // A guard on our own code, not on input: every key the profile writes must be an Odoo 18 option.
            if (!KnownOptions.Contains(key))
            {
                throw new InvalidOperationException($"odoo.conf: '{key}' is not an Odoo 18 option; the profile must not write it");
            }

            text.Append(key).Append(" = ").Append(value).Append('\n');
        }
    }

    private static IEnumerable<KeyValuePair<string, string>> DatabaseOptions(OdooDatabase database) => database switch
    {
        // db_host False makes psycopg2 use the Unix socket, where pg_hba's "local ... peer" maps the system user.
        LocalPeerDatabase local => [new("db_host", "False"), new("db_user", local.User)],
        RemoteDatabase remote =>
        [
            new("db_host", remote.Host),
            new("db_port", Text(remote.Port)),
            new("db_user", remote.User),
            new("db_password", remote.Password ?? "False"),
            new("db_sslmode", remote.SslMode),
        ],
        _ => throw new InvalidOperationException($"odoo.database: unknown topology {database.GetType().Name}"),
    };

    private static IEnumerable<string> CheckDatabase(OdooDatabase database)
    {
        switch (database)
        {
            case LocalPeerDatabase local:
                if (!Grammar.IsUnixName(local.User))
                {
                    yield return $"odoo.database.user: '{Grammar.Printable(local.User)}' is not a system user name (^[a-z_][a-z0-9_-]{{0,31}}$); "
                        + "peer authentication maps the system user to the PostgreSQL role of the same name";
                }

                break;
            case RemoteDatabase remote:
                if (!Grammar.IsDomain(remote.Host) && !IsIpAddress(remote.Host))
                {
                    yield return $"odoo.database.host: '{Grammar.Printable(remote.Host)}' is neither a DNS name nor an IP address; fix the remote PostgreSQL host";
                }

                if (SpecValidator.CheckPort("odoo.database.port", remote.Port) is { } portError)
                {
                    yield return portError;
                }

                if (!Grammar.IsSqlIdentifier(remote.User))
                {
                    yield return $"odoo.database.user: '{Grammar.Printable(remote.User)}' is not a PostgreSQL role name the profile manages (^[a-z_][a-z0-9_]{{0,62}}$); fix the role";
                }

                if (remote.Password is { } password && CheckPassword(password) is { } passwordError)
                {
                    yield return passwordError;
                }

                if (!SslModes.Contains(remote.SslMode))
                {
                    yield return $"odoo.database.sslmode: '{Grammar.Printable(remote.SslMode)}' is not one of {string.Join(", ", SslModes)}; "
                        + "use verify-full for a PostgreSQL across a network";
                }

                break;
            default:
                yield return $"odoo.database: unknown topology {database.GetType().Name}; use local peer or remote";
                break;
        }
    }

    private static string? CheckPassword(string password)
    {
        // Never echo the value. Odoo turns the literal strings True/False/None into booleans/None.
        const string Fix = "generate a new database password";
        if (password.Length is 0 or > 256 || !password.All(c => c is > ' ' and <= '~'))
        {
            return $"odoo.database.password: must be 1-256 visible ASCII characters (no spaces, control or non-ASCII characters); {Fix}";
        }

        return password is "True" or "true" or "False" or "false" or "None"
            ? $"odoo.database.password: Odoo reads this value as a boolean or None, not a password; {Fix}"
            : null;
    }

    private static string? CheckDbFilter(string filter)
    {
        const string Fix = $"use \"{DbFilterByDomain}\", \"{DbFilterByHost}\" or a regex over the host's database names";
        if (filter.Length is 0 or > 512 || !Grammar.IsSingleLine(filter) || filter.Trim().Length != filter.Length)
        {
            return $"odoo.dbfilter: '{Grammar.Printable(filter)}' must be a single-line regex of 1-512 characters without surrounding spaces; {Fix}";
        }

        if (DbFilterSubset.Problem(filter) is { } problem)
        {
            return $"odoo.dbfilter: '{Grammar.Printable(filter)}' {problem}; {Fix}";
        }

        // Odoo substitutes %h and %d with the escaped host and domain label before compiling.
        var pattern = filter.Replace("%h", "host\\.example\\.com", StringComparison.Ordinal).Replace("%d", "host", StringComparison.Ordinal);
        try
        {
            _ = new Regex(pattern, RegexOptions.None, TimeSpan.FromSeconds(1));
            return null;
        }
        catch (ArgumentException e)
        {
            return $"odoo.dbfilter: '{Grammar.Printable(filter)}' is not a valid regex ({e.Message}); {Fix}";
        }
    }

    private static string? CheckOverride(string key, string value)
    {
        var field = $"odoo.conf.{Grammar.Printable(key, 60)}";
        if (!KnownOptions.Contains(key))
        {
            return $"{field}: is not an Odoo 18 option Odoo would read (unknown keys are silently ignored, SEED-ERRATA #3); "
                + "fix the key's spelling or remove the override";
        }

        if (OwnedOptions.TryGetValue(key, out var reason))
        {
            return $"{field}: is owned by the profile and cannot be overridden: {reason}";
        }

        var shown = SecretOptions.Contains(key) ? "the value" : $"'{Grammar.Printable(value)}'";
        if (value.Length is 0 or > 1024 || !Grammar.IsSingleLine(value) || value.Trim().Length != value.Length
            || value.IndexOfAny([';', '#', '[', ']']) >= 0)
        {
            // Odoo's parser would only misread newlines; ';', '#', '[' and ']' are refused too because comment- and
            // section-aware readers of the file (editors, other tools) would see a different file than Odoo does.
            return $"{field}: {shown} must be 1-1024 characters on one line, without control characters, surrounding spaces, "
                + "';', '#', '[' or ']'; fix the override's value";
        }

        if (!OverrideKinds.TryGetValue(key, out var kind))
        {
            return null;
        }

        return kind.Kind switch
        {
            ValueKind.Int => long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number)
                && number >= kind.Min && number <= kind.Max
                    ? null
                    : $"{field}: {shown} is not a whole number in {kind.Min}-{kind.Max}; fix the override's value",
            ValueKind.Float => double.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var real)
                && real >= kind.Min && real <= kind.Max
                    ? null
                    : $"{field}: {shown} is not a decimal number of at least {kind.Min} (e.g. 0.5); fix the override's value",
            ValueKind.Bool => value is "True" or "False" ? null : $"{field}: {shown} is not True or False; fix the override's value",
            ValueKind.Path => CheckPath(field, value),
            ValueKind.PathList => value.Split(',').Select(path => CheckPath(field, path)).FirstOrDefault(error => error is not null),
            ValueKind.ModuleList => value.Split(',').All(module => ModuleNamePattern().IsMatch(module))
                ? null
                : $"{field}: {shown} is not a comma-separated list of module names (^[a-z0-9_]+$, e.g. base,web); fix the override's value",
            _ => null,
        };
    }

    private static string? CheckPath(string field, string path) => Grammar.IsSafeAbsolutePath(path)
        ? null
        : $"{field}: '{Grammar.Printable(path)}' is not a safe absolute path (letters, digits and ._+@:/- only, no '..', no commas); fix the path";

    private static bool IsIpAddress(string host) => !host.Contains('%', StringComparison.Ordinal) && IPAddress.TryParse(host, out _);

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static Dictionary<string, string> BuildOwnedOptions()
    {
        const string Database = "the database connection is typed (local peer or remote with host, port, user, password and sslmode)";
        const string Memory = "memory limits are derived from RAM so Odoo never over-commits it";
        var owned = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["http_interface"] = "Odoo listens on 127.0.0.1 only; nginx is the public endpoint",
            ["http_port"] = "set odoo.http_port (nginx proxies to it)",
            ["gevent_port"] = "set odoo.gevent_port (nginx proxies /websocket to it)",
            ["http_enable"] = "nginx fronts Odoo's HTTP service; disabling it takes the host down",
            ["proxy_mode"] = "must stay True behind nginx (real client IPs for fail2ban, https URLs)",
            ["x_sendfile"] = "it needs a matching internal X-Accel location in the nginx site",
            ["list_db"] = "the database manager stays closed in production (SEED-ERRATA #14)",
            ["admin_passwd"] = "it is a per-host pbkdf2 hash from the controller's secret store",
            ["data_dir"] = "the host layout fixes it; backups read the filestore there",
            ["logfile"] = "the host layout fixes it; logrotate and fail2ban read that file",
            ["syslog"] = "Odoo refuses logfile and syslog together, and the profile logs to a file (SEED-ERRATA #13)",
            ["log_level"] = "set odoo.log_level (validated against Odoo 18's levels)",
            ["dbfilter"] = "it is derived from the host's databases and domains",
            ["addons_path"] = "it lists the release's addons directories",
            ["without_demo"] = "production databases never load demo data (SEED-ERRATA #17)",
            ["workers"] = "set odoo.workers: it is checked against the host's RAM",
            ["max_cron_threads"] = "set odoo.max_cron_threads: it is checked against the host's RAM",
            ["limit_memory_hard"] = Memory,
            ["limit_memory_soft"] = Memory,
            ["limit_memory_hard_gevent"] = Memory,
            ["limit_memory_soft_gevent"] = Memory,
        };
        foreach (var key in KnownOptions.Where(key => key.StartsWith("db_", StringComparison.Ordinal)))
        {
            owned[key] = Database;
        }

        return owned;
    }

    [GeneratedRegex(@"^(?<key>[^=:\s][^=:]*?)\s*(?<delimiter>[=:])")]
    private static partial Regex OptionLinePattern();

    [GeneratedRegex(@"^[a-z0-9_]+\z")]
    private static partial Regex ModuleNamePattern();
}
