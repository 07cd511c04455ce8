using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Tests.Profiles;

public sealed class OdooConfRendererTests
{

    // pbkdf2-sha512 of "pässwörd", 210000 rounds (see AdminPasswordTests).
    private const string Hash =
        "$pbkdf2-sha512$210000$AAECAwQFBgcICQoLDA0ODw$i86sggKQEqh5IGVVRaPfW2qUSjckKUpbkHT5cwhcDvtbPYlZUzrNUFzjatkR.0tiFMtJW.j9jCRu.Rks1cLQXw";

    private const string Release = "/opt/odoo/releases/18.0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    private static readonly RemoteDatabase Remote = new("db1.example.com", 5432, "odoo_acme", "s3cret!x%Y", "verify-full");

    internal static OdooConfInput Input(IReadOnlyDictionary<string, string>? overrides = null) => new()
    {
        HttpPort = 8069,
        GeventPort = 8072,
        DataDir = "/var/lib/odoo",
        LogFile = "/var/log/odoo/odoo.log",
        DbFilter = OdooConfRenderer.DbFilterByDomain,
        AdminPasswordHash = Hash,
        AddonsPaths = [$"{Release}/odoo/addons", $"{Release}/addons"],
        Database = new LocalPeerDatabase("odoo"),
        Tuning = Tuning.Compute(new TuningInput(2, 4L << 30, LocalPostgres: true)),
        Overrides = overrides ?? new Dictionary<string, string>(),
    };

    private static Dictionary<string, string> Overrides(string key, string value) => new(StringComparer.Ordinal) { [key] = value };

    [Fact]
    public void Render_LocalPeerFourGiB_ExactProductionConfig()
    {
        var expected = $"""
            ; Managed by odoofleet-agent: local changes are put back on the next converge.
            [options]
            http_interface = 127.0.0.1
            http_port = 8069
            gevent_port = 8072
            proxy_mode = True
            data_dir = /var/lib/odoo
            logfile = /var/log/odoo/odoo.log
            log_level = info
            list_db = False
            without_demo = all
            dbfilter = ^%d$
            admin_passwd = {Hash}
            addons_path = {Release}/odoo/addons,{Release}/addons
            db_host = False
            db_user = odoo
            workers = 5
            max_cron_threads = 1
            limit_memory_hard = 1073741824
            limit_memory_soft = 858783744
            limit_memory_hard_gevent = 1073741824
            limit_memory_soft_gevent = 858783744
            limit_time_cpu = 60
            limit_time_real = 120
            limit_time_real_cron = -1
            limit_request = 65536
            db_maxconn = 8

            """;

        Assert.Equal(expected, OdooConfRenderer.Render(Input()));
    }

    [Fact]
    public void Render_RemoteDatabase_WritesHostPortUserPasswordAndSslmode()
    {
        var text = OdooConfRenderer.Render(Input() with { Database = Remote });

        Assert.Contains(
            "\ndb_host = db1.example.com\ndb_port = 5432\ndb_user = odoo_acme\ndb_password = s3cret!x%Y\ndb_sslmode = verify-full\n",
            text, StringComparison.Ordinal);
        Assert.DoesNotContain("db_host = False", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_OverridesInAnyOrder_ByteStable()
    {
        var one = new Dictionary<string, string>(StringComparer.Ordinal) { ["smtp_server"] = "mail.example.com", ["email_from"] = "odoo@example.com" };
        var two = new Dictionary<string, string>(StringComparer.Ordinal) { ["email_from"] = "odoo@example.com", ["smtp_server"] = "mail.example.com" };

        Assert.Equal(OdooConfRenderer.Render(Input(one)), OdooConfRenderer.Render(Input(two)));
        Assert.EndsWith("; operator overrides\nemail_from = odoo@example.com\nsmtp_server = mail.example.com\n", OdooConfRenderer.Render(Input(one)), StringComparison.Ordinal);
    }

    [Fact]
    public void Render_OverrideOfProfileWrittenTimeLimit_ReplacedInPlaceOnce()
    {
        var text = OdooConfRenderer.Render(Input(Overrides("limit_time_cpu", "300")));

        Assert.Contains("\nlimit_time_cpu = 300\nlimit_time_real = 120\n", text, StringComparison.Ordinal);
        Assert.Single(text.Split('\n'), line => line.StartsWith("limit_time_cpu", StringComparison.Ordinal));
        Assert.DoesNotContain("; operator overrides", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_AnyInput_WritesOnlyKnownOdoo18Options()
    {
        var overrides = new Dictionary<string, string>(StringComparer.Ordinal) { ["smtp_server"] = "mail.example.com", ["unaccent"] = "True" };
        var text = OdooConfRenderer.Render(Input(overrides) with { Database = Remote });
        var keys = text.Split('\n').Where(line => line.Contains(" = ", StringComparison.Ordinal)).Select(line => line[..line.IndexOf(" = ", StringComparison.Ordinal)]).ToList();

        Assert.Equal(keys.Count, keys.Distinct(StringComparer.Ordinal).Count());
        Assert.All(keys, key => Assert.Contains(key, OdooConfRenderer.KnownOptions));
        Assert.DoesNotContain("syslog", keys);
    }

    [Theory]
    [InlineData("log_level", "odoo.log_level: 'info_rpc' is not an Odoo 18 log level")]
    [InlineData("dbfilter_unbalanced", "odoo.dbfilter: '^(%d$' leaves 1 group(s) open")]
    [InlineData("dbfilter_newline", "odoo.dbfilter: '^%d$?' must be a single-line regex")]
    [InlineData("dbfilter_empty", "odoo.dbfilter: '' must be a single-line regex")]
    [InlineData("admin_plaintext", "odoo.admin_passwd: is not a passlib pbkdf2-sha512 hash")]
    [InlineData("addons_relative", "odoo.addons_path[0]: 'odoo/addons' is not a safe absolute path")]
    [InlineData("addons_comma", "odoo.addons_path[1]: '/a,/b' is not a safe absolute path")]
    [InlineData("addons_empty", "odoo.addons_path: is empty")]
    [InlineData("addons_twice", "odoo.addons_path: lists a directory twice")]
    [InlineData("data_dir", "odoo.data_dir: '/var/lib/../odoo' is not a safe absolute path")]
    [InlineData("logfile", "odoo.logfile: '/var/log/odoo/odoo.log?' is not a safe absolute path")]
    [InlineData("ports", "odoo.gevent_port: 8069 equals odoo.http_port")]
    [InlineData("port_range", "odoo.http_port: 70000 is not a TCP port")]
    [InlineData("local_user", "odoo.database.user: 'Odoo!' is not a system user name")]
    [InlineData("remote_host", "odoo.database.host: 'db host' is neither a DNS name nor an IP address")]
    [InlineData("remote_port", "odoo.database.port: 0 is not a TCP port")]
    [InlineData("remote_user", "odoo.database.user: 'Odoo-Acme' is not a PostgreSQL role name")]
    [InlineData("remote_password_space", "odoo.database.password: must be 1-256 visible ASCII characters")]
    [InlineData("remote_password_newline", "odoo.database.password: must be 1-256 visible ASCII characters")]
    [InlineData("remote_password_false", "odoo.database.password: Odoo reads this value as a boolean or None")]
    [InlineData("remote_sslmode", "odoo.database.sslmode: 'verify' is not one of disable, allow, prefer, require, verify-ca, verify-full")]
    public void Render_InvalidInput_RejectedNamingFieldRuleAndFix(string @case, string expectedStart)
    {
        var input = Input();
        input = @case switch
        {
            "log_level" => input with { LogLevel = "info_rpc" },
            "dbfilter_unbalanced" => input with { DbFilter = "^(%d$" },
            "dbfilter_newline" => input with { DbFilter = "^%d$\n" },
            "dbfilter_empty" => input with { DbFilter = "" },
            "admin_plaintext" => input with { AdminPasswordHash = "superadmin_secret_password" },
            "addons_relative" => input with { AddonsPaths = ["odoo/addons"] },
            "addons_comma" => input with { AddonsPaths = ["/opt/addons", "/a,/b"] },
            "addons_empty" => input with { AddonsPaths = [] },
            "addons_twice" => input with { AddonsPaths = ["/opt/addons", "/opt/addons"] },
            "data_dir" => input with { DataDir = "/var/lib/../odoo" },
            "logfile" => input with { LogFile = "/var/log/odoo/odoo.log\n" },
            "ports" => input with { GeventPort = 8069 },
            "port_range" => input with { HttpPort = 70000 },
            "local_user" => input with { Database = new LocalPeerDatabase("Odoo!") },
            "remote_host" => input with { Database = Remote with { Host = "db host" } },
            "remote_port" => input with { Database = Remote with { Port = 0 } },
            "remote_user" => input with { Database = Remote with { User = "Odoo-Acme" } },
            "remote_password_space" => input with { Database = Remote with { Password = "two words" } },
            "remote_password_newline" => input with { Database = Remote with { Password = "x\ndb_host = evil" } },
            "remote_password_false" => input with { Database = Remote with { Password = "False" } },
            "remote_sslmode" => input with { Database = Remote with { SslMode = "verify" } },
            _ => throw new ArgumentOutOfRangeException(nameof(@case)),
        };

        var error = Assert.Throws<SpecValidationException>(() => OdooConfRenderer.Render(input));

        Assert.StartsWith(expectedStart, Assert.Single(error.Errors), StringComparison.Ordinal);
        Assert.DoesNotContain("two words", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("evil", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("debug")]
    [InlineData("debug_rpc")]
    [InlineData("debug_rpc_answer")]
    [InlineData("debug_sql")]
    [InlineData("info")]
    [InlineData("warn")]
    [InlineData("error")]
    [InlineData("critical")]
    [InlineData("test")]
    [InlineData("runbot")]
    [InlineData("notset")]
    public void Render_Odoo18LogLevel_Written(string level) =>
        Assert.Contains($"\nlog_level = {level}\n", OdooConfRenderer.Render(Input() with { LogLevel = level }), StringComparison.Ordinal);

    [Theory]
    [InlineData("info_rpc")]
    [InlineData("INFO")]
    [InlineData("warning")]
    [InlineData("")]
    public void Validate_UnknownLogLevel_Rejected(string level) =>
        Assert.Single(OdooConfRenderer.Validate(Input() with { LogLevel = level }), error => error.StartsWith("odoo.log_level:", StringComparison.Ordinal));

    [Theory]
    [InlineData("^%h$")]
    [InlineData("^(?:acme|globex)$")]
    [InlineData("^[a-z]+_prod$")]
    public void Render_ValidDbFilter_Written(string filter) =>
        Assert.Contains($"\ndbfilter = {filter}\n", OdooConfRenderer.Render(Input() with { DbFilter = filter }), StringComparison.Ordinal);

    [Theory]
    [InlineData("smtp_server", "mail.example.com")]
    [InlineData("email_from", "Odoo <odoo@example.com>")]
    [InlineData("log_handler", ":INFO,werkzeug:WARNING")]
    [InlineData("server_wide_modules", "base,web,queue_job")]
    [InlineData("limit_time_real_cron", "0")]
    [InlineData("limit_time_worker_cron", "3600")]
    [InlineData("limit_request", "8192")]
    [InlineData("transient_age_limit", "0.5")]
    [InlineData("smtp_ssl", "True")]
    [InlineData("smtp_port", "587")]
    [InlineData("smtp_password", "p@ss%word!")]
    [InlineData("pidfile", "/run/odoo/odoo.pid")]
    [InlineData("upgrade_path", "/opt/odoo/upgrade,/opt/odoo/upgrade-util")]
    [InlineData("geoip_city_db", "/usr/share/GeoIP/GeoLite2-City.mmdb")]
    public void Render_AllowedOverride_WrittenOnce(string key, string value)
    {
        var text = OdooConfRenderer.Render(Input(Overrides(key, value)));

        Assert.Single(text.Split('\n'), line => line == $"{key} = {value}");
    }

    [Theory]
    [InlineData("redis_host", "is not an Odoo 18 option")]
    [InlineData("redis", "is not an Odoo 18 option")]
    [InlineData("xmlrpc_interface", "is not an Odoo 18 option")]
    [InlineData("longpolling_port", "is not an Odoo 18 option")]
    [InlineData("logrotate", "is not an Odoo 18 option")]
    [InlineData("Smtp_Server", "is not an Odoo 18 option")]
    [InlineData("http_interface", "is owned by the profile")]
    [InlineData("http_port", "is owned by the profile")]
    [InlineData("http_enable", "is owned by the profile")]
    [InlineData("proxy_mode", "is owned by the profile")]
    [InlineData("x_sendfile", "is owned by the profile")]
    [InlineData("list_db", "is owned by the profile")]
    [InlineData("admin_passwd", "is owned by the profile")]
    [InlineData("data_dir", "is owned by the profile")]
    [InlineData("logfile", "is owned by the profile")]
    [InlineData("syslog", "is owned by the profile")]
    [InlineData("log_level", "is owned by the profile")]
    [InlineData("dbfilter", "is owned by the profile")]
    [InlineData("addons_path", "is owned by the profile")]
    [InlineData("without_demo", "is owned by the profile")]
    [InlineData("workers", "is owned by the profile")]
    [InlineData("max_cron_threads", "is owned by the profile")]
    [InlineData("limit_memory_hard", "is owned by the profile")]
    [InlineData("limit_memory_soft_gevent", "is owned by the profile")]
    [InlineData("db_host", "is owned by the profile")]
    [InlineData("db_password", "is owned by the profile")]
    [InlineData("db_maxconn", "is owned by the profile")]
    [InlineData("db_name", "is owned by the profile")]
    public void Render_OverrideOfUnknownOrOwnedKey_Rejected(string key, string expected)
    {
        var error = Assert.Throws<SpecValidationException>(() => OdooConfRenderer.Render(Input(Overrides(key, "1"))));

        var message = Assert.Single(error.Errors);
        Assert.StartsWith($"odoo.conf.{key}: {expected}", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("mail\nexample")]
    [InlineData("mail\n[options]\nadmin_passwd = admin")]
    [InlineData("mail\rexample")]
    [InlineData("mail\0example")]
    [InlineData("mail;example")]
    [InlineData("[options]")]
    [InlineData("mail]")]
    [InlineData("mail # comment")]
    [InlineData(" mail.example.com")]
    [InlineData("mail.example.com ")]
    [InlineData("mail\texample")]
    [InlineData("")]
    public void Render_HostileOverrideValue_Rejected(string value)
    {
        var error = Assert.Throws<SpecValidationException>(() => OdooConfRenderer.Render(Input(Overrides("smtp_server", value))));

        Assert.StartsWith("odoo.conf.smtp_server: ", Assert.Single(error.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Render_HostileSecretOverride_ValueNotEchoed()
    {
        var error = Assert.Throws<SpecValidationException>(() => OdooConfRenderer.Render(Input(Overrides("smtp_password", "hunter2;x"))));

        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("limit_time_cpu", "abc")]
    [InlineData("limit_time_cpu", "0")]
    [InlineData("limit_time_cpu", "1.5")]
    [InlineData("limit_time_real_cron", "-2")]
    [InlineData("smtp_port", "70000")]
    [InlineData("smtp_ssl", "yes")]
    [InlineData("unaccent", "true")]
    [InlineData("transient_age_limit", "-1")]
    [InlineData("websocket_rate_limit_delay", "1e3")]
    [InlineData("pidfile", "run/odoo.pid")]
    [InlineData("upgrade_path", "/opt/odoo/upgrade,../up")]
    [InlineData("server_wide_modules", "base, web")]
    [InlineData("server_wide_modules", "base,web,")]
    public void Render_OverrideOfWrongType_Rejected(string key, string value)
    {
        var error = Assert.Throws<SpecValidationException>(() => OdooConfRenderer.Render(Input(Overrides(key, value))));

        Assert.StartsWith($"odoo.conf.{key}: ", Assert.Single(error.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Redact_RenderedRemoteConfig_BlanksOnlySecrets()
    {
        var text = OdooConfRenderer.Render(Input(Overrides("smtp_password", "smtp-secret")) with { Database = Remote });

        var redacted = OdooConfRenderer.Redact(text);

        Assert.DoesNotContain(Hash, redacted, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret!x%Y", redacted, StringComparison.Ordinal);
        Assert.DoesNotContain("smtp-secret", redacted, StringComparison.Ordinal);
        Assert.Contains("\nadmin_passwd = <redacted>\n", redacted, StringComparison.Ordinal);
        Assert.Contains("\ndb_password = <redacted>\n", redacted, StringComparison.Ordinal);
        Assert.Contains("\nsmtp_password = <redacted>\n", redacted, StringComparison.Ordinal);
        Assert.Equal(
            text.Split('\n').Where(line => !line.Contains("passw", StringComparison.Ordinal)),
            redacted.Split('\n').Where(line => !line.Contains("passw", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("[options]\nadmin_passwd=plain\n", "[options]\nadmin_passwd = <redacted>\n")]
    [InlineData("[options]\nDB_PASSWORD : plain\n", "[options]\nDB_PASSWORD : <redacted>\n")]
    [InlineData("[options]\ndb_password = first\n  second line\nworkers = 2\n", "[options]\ndb_password = <redacted>\n    <redacted>\nworkers = 2\n")]
    [InlineData("[options]\ndb_host = a:b\nworkers = 2\n", "[options]\ndb_host = a:b\nworkers = 2\n")]
    public void Redact_HandEditedFile_BlanksSecretsWhateverTheirSpelling(string text, string expected) =>
        Assert.Equal(expected, OdooConfRenderer.Redact(text));

    [Theory]
    [InlineData(new[] { "acme" }, "^acme$")]
    [InlineData(new[] { "globex", "acme", "acme" }, "^(?:acme|globex)$")]
    [InlineData(new[] { "acme-prod", "acme_test" }, "^(?:acme-prod|acme_test)$")]
    public void DbFilterForDatabases_Names_SortedExactAlternation(string[] names, string expected) =>
        Assert.Equal(expected, OdooConfRenderer.DbFilterForDatabases(names));

    [Theory]
    [InlineData("")]
    [InlineData("acme a.b")]
    [InlineData("acme|.*")]
    public void DbFilterForDatabases_NoneOrBadName_Rejected(string spaceSeparatedNames) =>
        Assert.Throws<SpecValidationException>(() =>
            OdooConfRenderer.DbFilterForDatabases(spaceSeparatedNames.Split(' ', StringSplitOptions.RemoveEmptyEntries)));

    [Fact]
    public void RemoteDatabase_ToString_NeverShowsThePassword() =>
        Assert.DoesNotContain("s3cret", Remote.ToString(), StringComparison.Ordinal);

    [Fact]
    public void OwnedOptions_AllKnown_AndEveryDbOptionOwned()
    {
        Assert.All(OdooConfRenderer.OwnedOptions.Keys, key => Assert.Contains(key, OdooConfRenderer.KnownOptions));
        Assert.All(
            OdooConfRenderer.KnownOptions.Where(key => key.StartsWith("db_", StringComparison.Ordinal)),
            key => Assert.True(OdooConfRenderer.OwnedOptions.ContainsKey(key), key));
    }

    [Theory]
    [InlineData("xmlrpc_interface")]
    [InlineData("longpolling_port")]
    [InlineData("redis_host")]
    [InlineData("logrotate")]
    [InlineData("cache_timeout")]
    public void KnownOptions_SeedGuideMistakes_AreNotKnown(string key) =>
        Assert.DoesNotContain(key, OdooConfRenderer.KnownOptions);
}
