using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace OdooFleet.Controller.Domain;

/// <summary>
/// The edge rules of host profiles: strict grammars for every value of a <see cref="ProfileChange"/>
/// (they end up in nginx, odoo.conf, fail2ban and PostgreSQL settings on the host) and the merge of
/// a change into the stored profile, with the checks that need both. Pure. Messages name the field,
/// the rule and the fix; untrusted text is echoed only bounded and printable. The agent validates
/// again: it does not trust the wire.
/// </summary>
internal static partial class ProfileRules
{
    public const int MaxDomains = 20;
    public const int MaxOptions = 64;
    public const int MaxWorkers = 256;
    public const int MaxCronThreads = 16;
    public const int MaxLoginRetry = 100;
    public const int MinWindowSeconds = 60;
    public const int MaxFindTimeSeconds = 86400;
    public const int MaxBanSeconds = 30 * 86400;

    /// <summary>Odoo 18's --log-level choices (SEED-ERRATA #12: "info_rpc" is not one).</summary>
    public static readonly IReadOnlySet<string> LogLevels = new HashSet<string>(StringComparer.Ordinal)
    {
        "debug", "debug_rpc", "debug_rpc_answer", "debug_sql", "info", "warn", "error", "critical", "test", "runbot", "notset",
    };

    /// <summary>libpq's sslmode values (Odoo 18's db_sslmode takes the same).</summary>
    public static readonly IReadOnlySet<string> SslModes = new HashSet<string>(StringComparer.Ordinal)
    {
        "disable", "allow", "prefer", "require", "verify-ca", "verify-full",
    };

    /// <summary>
    /// Options of odoo/tools/config.py in Odoo 18. Odoo silently ignores any other key
    /// (SEED-ERRATA #3), so a typo would look applied and do nothing: refused here, at the edge.
    /// </summary>
    public static readonly IReadOnlySet<string> OdooOptions = new HashSet<string>(StringComparer.Ordinal)
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

    /// <summary>Options that are not free-form: they have a typed setting, are secrets, or the profile owns them.</summary>
    public static readonly IReadOnlyDictionary<string, string> ReservedOptions = BuildReservedOptions();

    /// <summary>Top-level domains no public CA certifies (RFC 6761, 6762, 8375 and the like).</summary>
    private static readonly string[] PrivateSuffixes = [".local", ".localhost", ".test", ".example", ".invalid", ".internal", ".lan", ".home.arpa"];

    /// <summary>Checks every value the change sets, on its own. Empty when all are well-formed.</summary>
    public static IReadOnlyList<string> Validate(ProfileChange change)
    {
        var errors = new List<string>();
        void Add(string? error)
        {
            if (error is not null)
            {
                errors.Add(error);
            }
        }

        if (change.IsEmpty)
        {
            errors.Add("settings: nothing to change; pass at least one setting (see `fleet host configure --help`)");
            return errors;
        }

        if (change.Domains is { } domains)
        {
            if (domains.Length > MaxDomains)
            {
                errors.Add($"domain: at most {MaxDomains} domains per host (got {domains.Length}); keep the names this host serves");
            }

            foreach (var domain in domains.Take(MaxDomains + 1))
            {
                Add(CheckDomain(domain));
            }

            foreach (var twice in domains.GroupBy(d => d, StringComparer.Ordinal).Where(g => g.Count() > 1).Take(3))
            {
                errors.Add($"domain: '{Printable(twice.Key)}' is given more than once; list each domain once (the first is the primary)");
            }
        }

        if (change.Tls is { } tls && !Enum.IsDefined(tls))
        {
            errors.Add("tls: unknown mode; use self-signed or acme");
        }

        if (change.AcmeEmail is { Length: > 0 } email)
        {
            Add(CheckEmail("acme_email", email));
        }

        if (change.Workers is { } workers && workers is < 0 or > MaxWorkers)
        {
            errors.Add($"workers: {workers} is out of range; use 1-{MaxWorkers} or auto (e.g. --workers 5); the agent also refuses what RAM cannot hold");
        }

        if (change.MaxCronThreads is { } cron && cron is < 0 or > MaxCronThreads)
        {
            errors.Add($"cron_threads: {cron} is out of range; use 1-{MaxCronThreads} or auto (e.g. --cron-threads 2)");
        }

        var set = change.SetOptions ?? [];
        if (set.Count > MaxOptions)
        {
            errors.Add($"option: at most {MaxOptions} options per host (got {set.Count})");
        }

        foreach (var (key, value) in set.Take(MaxOptions + 1))
        {
            Add(CheckOption(key, value));
        }

        foreach (var key in (change.UnsetOptions ?? []).Take(MaxOptions + 1))
        {
            if (!IsOptionKey(key))
            {
                errors.Add($"unset_option: '{Printable(key)}' is not an option name (lowercase letters, digits and _, starting with a letter, at most 64); e.g. --unset-option limit_time_cpu");
            }
            else if (set.ContainsKey(key))
            {
                errors.Add($"option '{key}': is both set and unset; pass one of --option {key}=VALUE or --unset-option {key}");
            }
        }

        if (change.LogLevel is { Length: > 0 } level && !LogLevels.Contains(level))
        {
            errors.Add($"log_level: '{Printable(level)}' is not an Odoo 18 log level; use one of {string.Join(", ", LogLevels)} (e.g. --log-level warn)");
        }

        if (change.PostgresHost is { } host)
        {
            Add(CheckPostgresHost(host));
        }

        if (change.PostgresPort is { } port && port is < 0 or > 65535)
        {
            errors.Add($"pg_port: {port} is not a TCP port; use 1-65535 (e.g. --pg-port 5432)");
        }

        if (change.PostgresUser is { Length: > 0 } user && !SqlIdentifierPattern().IsMatch(user))
        {
            errors.Add($"pg_user: '{Printable(user)}' is not a PostgreSQL role name we accept (lowercase letters, digits and _, starting with a letter or _, at most 63); e.g. --pg-user odoo");
        }

        if (change.PostgresSslMode is { Length: > 0 } sslmode && !SslModes.Contains(sslmode))
        {
            errors.Add($"pg_sslmode: '{Printable(sslmode)}' is not an sslmode; use one of {string.Join(", ", SslModes)} (e.g. --pg-sslmode verify-full)");
        }

        if (change.LoginMaxRetry is { } retry && retry is < 0 or > MaxLoginRetry)
        {
            errors.Add($"login_max_retry: {retry} is out of range; use 1-{MaxLoginRetry} or default (e.g. --login-max-retry 5)");
        }

        if (change.LoginFindTimeSeconds is { } find && find != 0 && find is < MinWindowSeconds or > MaxFindTimeSeconds)
        {
            errors.Add($"login_find_time: {find} s is out of range; use 1m-1d or default (e.g. --login-find-time 10m)");
        }

        if (change.LoginBanSeconds is { } ban && ban != 0 && ban is < MinWindowSeconds or > MaxBanSeconds)
        {
            errors.Add($"login_ban: {ban} s is out of range; use 1m-30d or default (e.g. --login-ban 1h)");
        }

        foreach (var (name, value) in (change.SetPostgresSettings ?? []).Take(MaxOptions + 1))
        {
            Add(CheckPostgresSetting(name, value));
        }

        DriftRules.Validate(change, errors);
        return errors;
    }

    /// <summary>
    /// Merges a (valid) change into the stored profile and checks the result as a whole.
    /// Returns the new profile, or the reasons it cannot be.
    /// </summary>
    public static (HostProfile? Profile, IReadOnlyList<string> Errors) Apply(HostProfile current, ProfileChange change, ProfileDefaults defaults)
    {
        var errors = new List<string>();
        var options = new SortedDictionary<string, string>(current.OdooOptions.ToDictionary(), StringComparer.Ordinal);
        foreach (var key in change.UnsetOptions ?? [])
        {
            options.Remove(key);
        }

        foreach (var (key, value) in change.SetOptions ?? [])
        {
            options[key] = value;
        }

        if (options.Count > MaxOptions)
        {
            errors.Add($"option: the host would have {options.Count} options, more than {MaxOptions}; unset some with --unset-option KEY");
        }

        var postgres = change.PostgresRemote switch
        {
            true => current.Postgres ?? new RemotePostgres("", null, null, null),
            false => null,
            null => current.Postgres,
        };
        var pgGiven = change.PostgresHost is not null || change.PostgresPort is not null || change.PostgresUser is not null || change.PostgresSslMode is not null;
        if (postgres is null)
        {
            if (pgGiven)
            {
                errors.Add("postgres: --pg-host, --pg-port, --pg-user and --pg-sslmode are for a remote PostgreSQL; add --postgres remote");
            }
        }
        else
        {
            postgres = new RemotePostgres(
                change.PostgresHost ?? postgres.Host,
                change.PostgresPort is { } port ? NullIfZero(port) : postgres.Port,
                change.PostgresUser is { } user ? NullIfEmpty(user) : postgres.User,
                change.PostgresSslMode is { } sslmode ? NullIfEmpty(sslmode) : postgres.SslMode);
            if (postgres.Host.Length == 0)
            {
                errors.Add("postgres: a remote PostgreSQL needs its server; add --pg-host NAME (e.g. --pg-host db1.example.com)");
            }
        }

        var pgSettings = new SortedDictionary<string, string>(current.PostgresSettings.ToDictionary(), StringComparer.Ordinal);
        foreach (var (name, value) in change.SetPostgresSettings ?? [])
        {
            pgSettings[name] = value;
        }

        if (pgSettings.Count > MaxOptions)
        {
            errors.Add($"postgres.settings: the host would have {pgSettings.Count} setting overrides, more than {MaxOptions}");
        }

        if (postgres is not null && change.SetPostgresSettings is { Count: > 0 })
        {
            errors.Add("postgres.settings: overrides are for the local PostgreSQL the agent manages, and this host uses a remote server; tune that server itself");
        }

        var next = current with
        {
            Domains = change.Domains ?? current.Domains,
            Tls = change.Tls ?? current.Tls,
            AcmeEmail = change.AcmeEmail is { } email ? NullIfEmpty(email) : current.AcmeEmail,
            DatabaseManager = change.DatabaseManager ?? current.DatabaseManager,
            Workers = change.Workers is { } workers ? NullIfZero(workers) : current.Workers,
            MaxCronThreads = change.MaxCronThreads is { } cron ? NullIfZero(cron) : current.MaxCronThreads,
            OdooOptions = options,
            LogLevel = change.LogLevel is { } level ? NullIfEmpty(level) : current.LogLevel,
            Postgres = postgres,
            PostgresSettings = pgSettings,
            LoginMaxRetry = change.LoginMaxRetry is { } retry ? NullIfZero(retry) : current.LoginMaxRetry,
            LoginFindTimeSeconds = change.LoginFindTimeSeconds is { } find ? NullIfZero(find) : current.LoginFindTimeSeconds,
            LoginBanSeconds = change.LoginBanSeconds is { } ban ? NullIfZero(ban) : current.LoginBanSeconds,
            UnattendedUpgradesOff = change.UnattendedUpgradesOff ?? current.UnattendedUpgradesOff,
            Drift = change.HasDriftChange ? DriftRules.Apply(current.Drift, change, errors) : current.Drift,
        };

        if (next.Tls == TlsSetting.Acme)
        {
            if (next.Domains.Count == 0)
            {
                errors.Add("tls: acme certifies domain names, and this host has none; add --domain NAME (or keep --tls self-signed)");
            }

            foreach (var domain in next.Domains.Where(IsPrivateName))
            {
                errors.Add($"tls: no public CA certifies '{domain}' (a private or reserved name); use a public domain or --tls self-signed");
            }

            if ((next.AcmeEmail ?? defaults.AcmeEmail) is null)
            {
                errors.Add("tls: acme needs a contact e-mail for Let's Encrypt; pass --acme-email ADDRESS or set Fleet:AcmeEmail on the controllers");
            }
        }

        return errors.Count > 0 ? (null, errors) : (next, []);
    }

    /// <summary>The profile as the agent gets it: unset values filled with the fleet defaults.</summary>
    public static HostProfile WithDefaults(HostProfile profile, ProfileDefaults defaults) => profile with
    {
        AcmeEmail = profile.AcmeEmail ?? defaults.AcmeEmail,
        LogLevel = profile.LogLevel ?? defaults.LogLevel,
        LoginMaxRetry = profile.LoginMaxRetry ?? NullIfZero(defaults.LoginMaxRetry),
        LoginFindTimeSeconds = profile.LoginFindTimeSeconds ?? NullIfZero(defaults.LoginFindTimeSeconds),
        LoginBanSeconds = profile.LoginBanSeconds ?? NullIfZero(defaults.LoginBanSeconds),
    };

    public static bool IsDomain(string value) => value.Length <= 253 && DomainPattern().IsMatch(value);

    public static bool IsEmail(string value) => value.Length <= 254 && EmailPattern().IsMatch(value);

    public static bool IsOptionKey(string value) => OptionKeyPattern().IsMatch(value);

    public static string? CheckDomain(string domain)
    {
        if (IsDomain(domain))
        {
            return null;
        }

        var hint = domain.Length <= 253 && IsDomain(domain.ToLowerInvariant()) ? $" (write it in lowercase: {domain.ToLowerInvariant()})" : "";
        return $"domain: '{Printable(domain)}' is not a DNS name{hint}; use lowercase labels of letters, digits and inner hyphens "
            + "(1-63 each, at least two, 253 in all), no wildcard or trailing dot; e.g. --domain erp.example.com";
    }

    public static string? CheckEmail(string field, string email) => IsEmail(email)
        ? null
        : $"{field}: '{Printable(email)}' is not an e-mail address we accept (local part of letters, digits and ._+-, not starting with '.' or '-', an @ and a lowercase domain; at most 254); e.g. --acme-email ops@example.com";

    private static string? CheckOption(string key, string value)
    {
        if (!IsOptionKey(key))
        {
            return $"option: '{Printable(key)}' is not an option name (lowercase letters, digits and _, starting with a letter, at most 64); e.g. --option limit_time_cpu=600";
        }

        if (!OdooOptions.Contains(key))
        {
            return $"option '{key}': is not an Odoo 18 option (Odoo silently ignores unknown keys, so it would look applied and do nothing); check the spelling";
        }

        if (ReservedOptions.TryGetValue(key, out var reason))
        {
            return $"option '{key}': {reason}";
        }

        if (value.Length is 0 or > 1024 || value.Any(UntrustedText.IsLineBreakOrControl) || value.Trim().Length != value.Length || value.IndexOfAny([';', '#', '[', ']']) >= 0)
        {
            return $"option '{key}': '{Printable(value)}' must be 1-1024 characters on one line, without control characters, surrounding spaces, ';', '#', '[' or ']'";
        }

        return null;
    }

    /// <summary>The agent's rule for a setting override: a lowercase name it may change, one bounded line; PostgreSQL checks the value.</summary>
    private static string? CheckPostgresSetting(string name, string value)
    {
        if (!SqlIdentifierPattern().IsMatch(name))
        {
            return $"postgres.settings: '{Printable(name)}' is not a setting name (lowercase letters, digits and _, e.g. work_mem)";
        }

        if (name is "port" or "unix_socket_directories")
        {
            return $"postgres.settings.{name}: is how the agent reaches the cluster; it cannot be overridden";
        }

        return value.Length is 0 or > 1024 || value.Any(UntrustedText.IsLineBreakOrControl)
            ? $"postgres.settings.{name}: '{Printable(value)}' must be 1-1024 characters on one line without control characters"
            : null;
    }

    private static string? CheckPostgresHost(string host)
    {
        const string Rule = "must be a lowercase DNS name or an IP address; e.g. --pg-host db1.example.com";
        if (host.Length == 0)
        {
            return $"pg_host: is empty but {Rule}";
        }

        if (Ipv4Pattern().IsMatch(host) || host.Contains(':', StringComparison.Ordinal))
        {
            // An address literal: no zone index ("%eth0"), nothing IPAddress would read leniently.
            return host.Length <= 45 && !host.Contains('%', StringComparison.Ordinal) && IPAddress.TryParse(host, out _)
                ? null
                : $"pg_host: '{Printable(host)}' is not a valid IP address; {Rule}";
        }

        // A name whose last label is all digits would be read as an address by resolvers (RFC 1123 2.1).
        return host.Length <= 253 && HostNamePattern().IsMatch(host) && !host[(host.LastIndexOf('.') + 1)..].All(char.IsAsciiDigit)
            ? null
            : $"pg_host: '{Printable(host)}' {Rule}";
    }

    private static bool IsPrivateName(string domain) =>
        PrivateSuffixes.Any(s => domain.EndsWith(s, StringComparison.Ordinal) || domain == s[1..]);

    private static int? NullIfZero(int value) => value == 0 ? null : value;

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    /// <summary>Echoes untrusted input back only bounded and printable.</summary>
    public static string Printable(string value) => UntrustedText.Printable(value);

    private static Dictionary<string, string> BuildReservedOptions()
    {
        const string Postgres = "the database connection has its own settings; use --postgres local|remote and --pg-host/--pg-port/--pg-user/--pg-sslmode";
        const string Secret = "is a secret, and secrets are not accepted as options (they would be stored and shown in clear); they come with the encrypted secret store";
        const string Memory = "is owned by the profile: memory limits are derived from RAM so Odoo never over-commits it";
        var reserved = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["workers"] = "has its own setting; use --workers N|auto",
            ["max_cron_threads"] = "has its own setting; use --cron-threads N|auto",
            ["log_level"] = "has its own setting; use --log-level LEVEL",
            ["list_db"] = "has its own setting; use --database-manager open|blocked",
            ["http_port"] = "is owned by the profile: the fleet sets the HTTP port nginx proxies to",
            ["gevent_port"] = "is owned by the profile: the fleet sets the port nginx proxies /websocket to",
            ["admin_passwd"] = Secret,
            ["smtp_password"] = Secret,
            ["db_password"] = Secret,
            ["http_interface"] = "is owned by the profile: Odoo listens on 127.0.0.1 only; nginx is the public endpoint",
            ["http_enable"] = "is owned by the profile: nginx fronts Odoo's HTTP service; disabling it takes the host down",
            ["proxy_mode"] = "is owned by the profile: it must stay True behind nginx (real client IPs for fail2ban)",
            ["x_sendfile"] = "is owned by the profile: it needs a matching X-Accel location in the nginx site",
            ["data_dir"] = "is owned by the profile: the host layout fixes it; backups read the filestore there",
            ["logfile"] = "is owned by the profile: logrotate and fail2ban read that file",
            ["syslog"] = "is owned by the profile: Odoo refuses logfile and syslog together (SEED-ERRATA #13)",
            ["dbfilter"] = "is owned by the profile: it is derived from the host's databases and domains",
            ["addons_path"] = "is owned by the profile: it lists the release's addons directories",
            ["without_demo"] = "is owned by the profile: production databases never load demo data (SEED-ERRATA #17)",
            ["limit_memory_hard"] = Memory,
            ["limit_memory_soft"] = Memory,
            ["limit_memory_hard_gevent"] = Memory,
            ["limit_memory_soft_gevent"] = Memory,
        };
        foreach (var key in OdooOptions.Where(k => k.StartsWith("db_", StringComparison.Ordinal)))
        {
            reserved.TryAdd(key, Postgres);
        }

        return reserved;
    }

    [GeneratedRegex(@"^(?=.{1,253}\z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\z")]
    private static partial Regex DomainPattern();

    /// <summary>A host name for a server on the network: like a domain, but one label is enough ("db1").</summary>
    [GeneratedRegex(@"^(?=.{1,253}\z)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\z")]
    private static partial Regex HostNamePattern();

    // The agent's grammar (Grammar.IsEmailAddress): no leading '-' (certbot would read an option), no '%'.
    [GeneratedRegex(@"^[A-Za-z0-9_+][A-Za-z0-9._+-]{0,63}@(?=.{1,253}\z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\z")]
    private static partial Regex EmailPattern();

    [GeneratedRegex(@"^[a-z][a-z0-9_]{0,63}\z")]
    private static partial Regex OptionKeyPattern();

    [GeneratedRegex(@"^[a-z_][a-z0-9_]{0,62}\z")]
    private static partial Regex SqlIdentifierPattern();

    [GeneratedRegex(@"^[0-9]{1,3}(\.[0-9]{1,3}){3}\z")]
    private static partial Regex Ipv4Pattern();
}
