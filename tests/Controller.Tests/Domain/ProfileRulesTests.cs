using OdooFleet.Controller.Domain;
using Xunit;

namespace OdooFleet.Controller.Tests.Domain;

public sealed class ProfileRulesTests
{
    private static readonly ProfileDefaults Defaults = new(null, "info", 5, 600, 3600);

    private static IReadOnlyList<string> Errors(ProfileChange change) => ProfileRules.Validate(change);

    [Theory]
    [InlineData("erp.example.com", true)]
    [InlineData("a.b", true)]
    [InlineData("xn--bcher-kva.example", true)]
    [InlineData("erp-01.example.co.uk", true)]
    [InlineData("Erp.Example.com", false)]
    [InlineData("localhost", false)]
    [InlineData("*.example.com", false)]
    [InlineData("erp.example.com.", false)]
    [InlineData("-erp.example.com", false)]
    [InlineData("erp-.example.com", false)]
    [InlineData("erp..example.com", false)]
    [InlineData("erp.example.com\n", false)]
    [InlineData("erp.example.com\nserver_name evil", false)]
    [InlineData("erp.example.com;", false)]
    [InlineData("erp.example.com include /etc/passwd", false)]
    [InlineData("erp.exa$(id)mple.com", false)]
    [InlineData("ërp.example.com", false)]
    [InlineData("erp.example.com\0", false)]
    [InlineData("", false)]
    public void IsDomain_Table(string value, bool expected) => Assert.Equal(expected, ProfileRules.IsDomain(value));

    [Fact]
    public void IsDomain_LabelOf64OrNameOver253_Refused()
    {
        Assert.False(ProfileRules.IsDomain(new string('a', 64) + ".example.com"));
        Assert.True(ProfileRules.IsDomain(new string('a', 63) + ".example.com"));
        Assert.False(ProfileRules.IsDomain(string.Join('.', Enumerable.Repeat(new string('a', 63), 4)) + ".com"));
    }

    [Theory]
    [InlineData("ops@example.com", true)]
    [InlineData("Ops.Team+acme@mail.example.com", true)]
    [InlineData("ops@Example.com", false)]
    [InlineData("ops@localhost", false)]
    [InlineData("ops example@example.com", false)]
    [InlineData("ops@example.com\nBcc: x@y.z", false)]
    [InlineData("<ops@example.com>", false)]
    [InlineData("ops@@example.com", false)]
    [InlineData("@example.com", false)]
    [InlineData("ops@", false)]
    public void IsEmail_Table(string value, bool expected) => Assert.Equal(expected, ProfileRules.IsEmail(value));

    [Fact]
    public void Validate_UppercaseDomain_SuggestsLowercase()
    {
        var error = Assert.Single(Errors(new ProfileChange { Domains = ["ERP.Example.com"] }));
        Assert.StartsWith("domain: 'ERP.Example.com' is not a DNS name (write it in lowercase: erp.example.com)", error, StringComparison.Ordinal);
        Assert.Contains("e.g. --domain erp.example.com", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ControlCharactersEchoed_OnlyAsQuestionMarks()
    {
        var error = Assert.Single(Errors(new ProfileChange { Domains = ["a.example.com\n\u001b[31mred"] }));
        Assert.DoesNotContain('\n', error);
        Assert.DoesNotContain('\u001b', error);
        Assert.Contains("a.example.com??[31mred", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_HugeInput_EchoIsBounded()
    {
        var error = Assert.Single(Errors(new ProfileChange { LogLevel = new string('x', 100_000) }));
        Assert.True(error.Length < 400, error);
    }

    [Fact]
    public void Validate_DuplicateDomainAndTooMany_BothNamed()
    {
        Assert.Contains(Errors(new ProfileChange { Domains = ["a.example.com", "a.example.com"] }),
            e => e.Contains("'a.example.com' is given more than once", StringComparison.Ordinal));
        var many = Enumerable.Range(0, ProfileRules.MaxDomains + 1).Select(i => $"d{i}.example.com").ToArray();
        Assert.Contains(Errors(new ProfileChange { Domains = many }), e => e.StartsWith("domain: at most 20 domains", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("limit_time_cpu", "600", null)]
    [InlineData("smtp_server", "mail.example.com", null)]
    [InlineData("server_wide_modules", "base,web", null)]
    [InlineData("Limit_time_cpu", "600", "is not an option name")]
    [InlineData("limit-time-cpu", "600", "is not an option name")]
    [InlineData("limit_time_cpu\nadmin_passwd", "x", "is not an option name")]
    [InlineData("redis_host", "127.0.0.1", "is not an Odoo 18 option")]
    [InlineData("xmlrpc_interface", "127.0.0.1", "is not an Odoo 18 option")]
    [InlineData("workers", "4", "use --workers")]
    [InlineData("max_cron_threads", "2", "use --cron-threads")]
    [InlineData("log_level", "debug", "use --log-level")]
    [InlineData("list_db", "True", "use --database-manager")]
    [InlineData("db_host", "10.0.0.5", "--postgres local|remote")]
    [InlineData("admin_passwd", "hunter2", "is a secret")]
    [InlineData("smtp_password", "hunter2", "is a secret")]
    [InlineData("db_password", "hunter2", "is a secret")]
    [InlineData("proxy_mode", "False", "is owned by the profile")]
    [InlineData("http_interface", "0.0.0.0", "is owned by the profile")]
    [InlineData("limit_memory_hard", "1", "is owned by the profile")]
    [InlineData("limit_time_cpu", "600\nadmin_passwd = x", "must be 1-1024 characters on one line")]
    [InlineData("limit_time_cpu", "600\r", "must be 1-1024 characters on one line")]
    [InlineData("limit_time_cpu", " 600", "surrounding spaces")]
    [InlineData("limit_time_cpu", "", "must be 1-1024 characters")]
    [InlineData("email_from", "a@b.c ; comment", "';', '#', '[' or ']'")]
    [InlineData("email_from", "[options]", "';', '#', '[' or ']'")]
    public void Validate_OptionTable(string key, string value, string? expectedError)
    {
        var errors = Errors(new ProfileChange { SetOptions = new() { [key] = value } });
        if (expectedError is null)
        {
            Assert.Empty(errors);
        }
        else
        {
            Assert.Contains(expectedError, Assert.Single(errors), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Validate_SecretOptionValue_NeverEchoed()
    {
        var error = Assert.Single(Errors(new ProfileChange { SetOptions = new() { ["smtp_password"] = "hunter2-very-secret" } }));
        Assert.DoesNotContain("hunter2", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_OptionSetAndUnset_Refused() =>
        Assert.Contains("is both set and unset", Assert.Single(Errors(new ProfileChange
        {
            SetOptions = new() { ["limit_time_cpu"] = "600" },
            UnsetOptions = ["limit_time_cpu"],
        })), StringComparison.Ordinal);

    [Theory]
    [InlineData("info", true)]
    [InlineData("debug_rpc_answer", true)]
    [InlineData("notset", true)]
    [InlineData("info_rpc", false)]
    [InlineData("INFO", false)]
    [InlineData("warning", false)]
    [InlineData("info\n", false)]
    public void Validate_LogLevelTable(string level, bool valid) =>
        Assert.Equal(valid, Errors(new ProfileChange { LogLevel = level }).Count == 0);

    [Theory]
    [InlineData("verify-full", true)]
    [InlineData("disable", true)]
    [InlineData("VERIFY-FULL", false)]
    [InlineData("required", false)]
    [InlineData("require sslrootcert=/etc/passwd", false)]
    public void Validate_SslModeTable(string mode, bool valid) =>
        Assert.Equal(valid, Errors(new ProfileChange { PostgresSslMode = mode }).Count == 0);

    [Theory]
    [InlineData("db1", true)]
    [InlineData("db1.example.com", true)]
    [InlineData("10.0.0.5", true)]
    [InlineData("2001:db8::5", true)]
    [InlineData("", false)]
    [InlineData("-oProxyCommand=x", false)]
    [InlineData("db1.example.com port=1", false)]
    [InlineData("db1'; DROP TABLE x;--", false)]
    [InlineData("fe80::1%eth0", false)]
    [InlineData("999.1.1.1", false)]
    [InlineData("10.0.5", false)]
    [InlineData("DB1", false)]
    public void Validate_PostgresHostTable(string host, bool valid) =>
        Assert.Equal(valid, Errors(new ProfileChange { PostgresHost = host }).Count == 0);

    [Theory]
    [InlineData("odoo", true)]
    [InlineData("_odoo_18", true)]
    [InlineData("Odoo", false)]
    [InlineData("odoo user", false)]
    [InlineData("odoo\"; DROP ROLE postgres; --", false)]
    public void Validate_PostgresUserTable(string user, bool valid) =>
        Assert.Equal(valid, Errors(new ProfileChange { PostgresUser = user }).Count == 0);

    [Theory]
    [InlineData(0, 0, 0, 0, 0, 0)]
    [InlineData(256, 16, 65535, 100, 86400, 2592000)]
    [InlineData(257, 0, 0, 0, 0, 0)]
    [InlineData(-1, 0, 0, 0, 0, 0)]
    [InlineData(0, 17, 0, 0, 0, 0)]
    [InlineData(0, 0, 65536, 0, 0, 0)]
    [InlineData(0, 0, -5, 0, 0, 0)]
    [InlineData(0, 0, 0, 101, 0, 0)]
    [InlineData(0, 0, 0, 0, 59, 0)]
    [InlineData(0, 0, 0, 0, 86401, 0)]
    [InlineData(0, 0, 0, 0, 0, 2592001)]
    public void Validate_NumberRanges(int workers, int cron, int port, int retry, int find, int ban)
    {
        var change = new ProfileChange
        {
            Workers = workers, MaxCronThreads = cron, PostgresPort = port, LoginMaxRetry = retry, LoginFindTimeSeconds = find, LoginBanSeconds = ban,
        };
        var inRange = workers is >= 0 and <= 256 && cron is >= 0 and <= 16 && port is >= 0 and <= 65535 && retry is >= 0 and <= 100
            && (find == 0 || find is >= 60 and <= 86400) && (ban == 0 || ban is >= 60 and <= 2592000);
        Assert.Equal(inRange, Errors(change).Count == 0);
    }

    [Fact]
    public void Validate_EmptyChange_NothingToChange() =>
        Assert.StartsWith("settings: nothing to change", Assert.Single(Errors(new ProfileChange())), StringComparison.Ordinal);

    [Fact]
    public void Apply_AcmeWithoutDomainsOrEmail_BothReasons()
    {
        var (profile, errors) = ProfileRules.Apply(HostProfile.Default, new ProfileChange { Tls = TlsSetting.Acme }, Defaults);

        Assert.Null(profile);
        Assert.Contains(errors, e => e.Contains("add --domain NAME", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("--acme-email ADDRESS or set Fleet:AcmeEmail", StringComparison.Ordinal));
    }

    [Fact]
    public void Apply_AcmeWithFleetEmailAndPublicDomain_Accepted()
    {
        var (profile, errors) = ProfileRules.Apply(
            HostProfile.Default, new ProfileChange { Tls = TlsSetting.Acme, Domains = ["erp.example.org"] }, Defaults with { AcmeEmail = "ops@example.org" });

        Assert.Empty(errors);
        Assert.Equal(TlsSetting.Acme, profile!.Tls);
        Assert.Null(profile.AcmeEmail);
    }

    [Theory]
    [InlineData("erp.local")]
    [InlineData("odoo.internal")]
    [InlineData("x.test")]
    [InlineData("box.home.arpa")]
    public void Apply_AcmeForPrivateName_Refused(string domain)
    {
        var (_, errors) = ProfileRules.Apply(
            HostProfile.Default, new ProfileChange { Tls = TlsSetting.Acme, Domains = [domain], AcmeEmail = "ops@example.org" }, Defaults);

        Assert.Contains($"no public CA certifies '{domain}'", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_ClearingDomainsOfAnAcmeHost_Refused()
    {
        var acme = HostProfile.Default with { Tls = TlsSetting.Acme, Domains = ["erp.example.org"], AcmeEmail = "ops@example.org" };

        var (_, errors) = ProfileRules.Apply(acme, new ProfileChange { Domains = [] }, Defaults);

        Assert.Contains("add --domain NAME", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_PostgresSettingsOnLocal_PointsToRemote()
    {
        var (_, errors) = ProfileRules.Apply(HostProfile.Default, new ProfileChange { PostgresHost = "db1" }, Defaults);

        Assert.Contains("add --postgres remote", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_RemoteWithoutHost_NeedsPgHost()
    {
        var (_, errors) = ProfileRules.Apply(HostProfile.Default, new ProfileChange { PostgresRemote = true }, Defaults);

        Assert.Contains("add --pg-host NAME", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_RemoteThenPortThenLocal_KeepsThenClearsRemoteSettings()
    {
        var (remote, _) = ProfileRules.Apply(
            HostProfile.Default, new ProfileChange { PostgresRemote = true, PostgresHost = "db1", PostgresSslMode = "verify-full" }, Defaults);
        var (withPort, _) = ProfileRules.Apply(remote!, new ProfileChange { PostgresPort = 6432 }, Defaults);
        var (local, errors) = ProfileRules.Apply(withPort!, new ProfileChange { PostgresRemote = false }, Defaults);

        Assert.Equal(new RemotePostgres("db1", 6432, null, "verify-full"), withPort!.Postgres);
        Assert.Empty(errors);
        Assert.Null(local!.Postgres);
    }

    [Fact]
    public void Apply_ZeroAndEmpty_ResetToDefaultsAndUnsetRemovesOption()
    {
        var tuned = HostProfile.Default with
        {
            Workers = 9,
            LogLevel = "warn",
            AcmeEmail = "a@example.org",
            LoginBanSeconds = 60,
            OdooOptions = new SortedDictionary<string, string>(StringComparer.Ordinal) { ["limit_time_cpu"] = "600", ["limit_request"] = "8192" },
        };

        var (profile, errors) = ProfileRules.Apply(
            tuned,
            new ProfileChange { Workers = 0, LogLevel = "", AcmeEmail = "", LoginBanSeconds = 0, UnsetOptions = ["limit_time_cpu", "not_set_anyway"] },
            Defaults);

        Assert.Empty(errors);
        Assert.Null(profile!.Workers);
        Assert.Null(profile.LogLevel);
        Assert.Null(profile.AcmeEmail);
        Assert.Null(profile.LoginBanSeconds);
        Assert.Equal("limit_request", Assert.Single(profile.OdooOptions.Keys));
    }

    [Fact]
    public void IsEquivalentTo_SameOptionsInAnotherOrder_True()
    {
        var a = HostProfile.Default with
        {
            Domains = ["a.example.com"],
            OdooOptions = new Dictionary<string, string>(StringComparer.Ordinal) { ["limit_request"] = "1", ["limit_time_cpu"] = "2" },
        };
        var b = HostProfile.Default with
        {
            Domains = ["a.example.com"],
            OdooOptions = new Dictionary<string, string>(StringComparer.Ordinal) { ["limit_time_cpu"] = "2", ["limit_request"] = "1" },
        };

        Assert.True(a.IsEquivalentTo(b));
        Assert.False(a.IsEquivalentTo(b with { Domains = ["b.example.com"] }));
        Assert.False(a.IsEquivalentTo(b with { Workers = 3 }));
    }

    [Fact]
    public void WithDefaults_UnsetValues_TakeFleetDefaults()
    {
        var filled = ProfileRules.WithDefaults(HostProfile.Default with { LoginMaxRetry = 3 }, Defaults with { AcmeEmail = "ops@example.org" });

        Assert.Equal("info", filled.LogLevel);
        Assert.Equal("ops@example.org", filled.AcmeEmail);
        Assert.Equal(3, filled.LoginMaxRetry);
        Assert.Equal(600, filled.LoginFindTimeSeconds);
        Assert.Equal(3600, filled.LoginBanSeconds);
    }
}
