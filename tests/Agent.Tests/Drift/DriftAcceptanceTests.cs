using OdooFleet.Agent.Drift;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Drift;

public sealed class DriftAcceptanceTests
{
    private const string Desired =
        """
        ; Managed by odoofleet-agent: local changes are put back on the next converge.
        [options]
        admin_passwd = $pbkdf2-sha512$600000$c2FsdA$aGFzaA
        db_user = odoo
        proxy_mode = True
        workers = 5
        max_cron_threads = 1
        log_level = info
        limit_time_cpu = 600
        limit_time_real = 1200

        """;

    /// <summary>The diff exactly as the drift check makes it: redacted, observed on the '-' side.</summary>
    private static string CheckDiff(string observed) =>
        TextDiff.Unified("/etc/odoo.conf", OdooConfRenderer.Redact(observed), OdooConfRenderer.Redact(Desired));

    private static string Patches(IReadOnlyList<DriftPatch> patches) => string.Join(" ", patches.Select(p => $"{p.Path}={p.Value}"));

    [Theory]
    // line replaced (old -> new, "" = removed), line added at the end, expected patches ("" = not acceptable)
    [InlineData("workers = 5", "workers = 3", "", "odoo.workers=3")]
    [InlineData("workers = 5", "workers=3", "", "odoo.workers=3")]                          // spacing as a hand edit writes it
    [InlineData("max_cron_threads = 1", "max_cron_threads = 2", "", "odoo.max_cron_threads=2")]
    [InlineData("log_level = info", "log_level = warn", "", "odoo.log_level=warn")]
    [InlineData("limit_time_cpu = 600", "limit_time_cpu = 900", "", "odoo.options.limit_time_cpu=900")]
    [InlineData("", "", "smtp_server = mail.example.com", "odoo.options.smtp_server=mail.example.com")]  // an option the profile does not own, added
    [InlineData("workers = 5", "workers = 2", "limit_request = 9000", "odoo.options.limit_request=9000 odoo.workers=2")]
    [InlineData("workers = 5", "", "", "")]                                                  // removed: no spec value says absent
    [InlineData("proxy_mode = True", "proxy_mode = False", "", "")]                          // owned by the profile
    [InlineData("workers = 5", "workers = 3", "proxy_mode = False", "")]                     // one part not acceptable: none is
    [InlineData("db_user = odoo", "db_user = postgres", "", "")]                             // database connection: typed, owned
    [InlineData("", "", "db_password = hunter2", "")]                                        // a secret, never accepted (nor shown)
    [InlineData("", "", "admin_passwd = other", "")]                                         // the master password: redacted, owned
    [InlineData("", "", "no_such_option = 1", "")]                                           // Odoo ignores unknown keys
    [InlineData("log_level = info", "log_level = info\nworkers = 9", "", "")]                 // a key twice (one in context): Odoo refuses to start
    [InlineData("", "", "[other]", "")]                                                      // a new section
    [InlineData("workers = 5", "workers = 3\n  continued", "", "")]                          // a continuation line
    public void FromOdooConf_HandEdit_ProposesSpecFieldsOrNothing(string line, string replacement, string added, string expected)
    {
        var observed = line.Length == 0 ? Desired : Desired.Replace(line + "\n", replacement.Length == 0 ? "" : replacement + "\n", StringComparison.Ordinal);
        observed += added.Length == 0 ? "" : added + "\n";

        var patches = DriftAcceptance.FromOdooConf("would update /etc/odoo.conf: content", CheckDiff(observed));

        Assert.Equal(expected, Patches(patches));
        Assert.DoesNotContain(patches, p => p.Value.Contains("hunter2", StringComparison.Ordinal));
    }

    [Fact]
    public void FromOdooConf_LinesReordered_ProposesNothing()
    {
        var observed = Desired.Replace("workers = 5\nmax_cron_threads = 1\n", "max_cron_threads = 1\nworkers = 5\n", StringComparison.Ordinal);

        Assert.Empty(DriftAcceptance.FromOdooConf("would update /etc/odoo.conf: content", CheckDiff(observed)));
    }

    [Theory]
    [InlineData("would update /etc/odoo.conf: mode 0644 -> 0640")]
    [InlineData("would update /etc/odoo.conf: content, mode 0644 -> 0640")]
    [InlineData("would update /etc/odoo.conf: content, owner root:root -> root:odoo")]
    [InlineData("would create /etc/odoo.conf (412 bytes, 0640)")]
    public void FromOdooConf_NotOnlyContent_ProposesNothing(string message)
    {
        var diff = CheckDiff(Desired.Replace("workers = 5", "workers = 3", StringComparison.Ordinal));

        Assert.Empty(DriftAcceptance.FromOdooConf(message, diff));
    }

    [Fact]
    public void FromOdooConf_DiffCutBySizeBound_ProposesNothing()
    {
        var diff = CheckDiff(Desired.Replace("workers = 5", "workers = 3", StringComparison.Ordinal)) + "… (120 more characters not kept)\n";

        Assert.Empty(DriftAcceptance.FromOdooConf("would update /etc/odoo.conf: content", diff));
    }

    private static PgSettingsResource.SettingState Memory(string kilobytes, string display) => new(kilobytes, "kB", "integer", "user", false, display);

    [Theory]
    // effective work_mem (kB, display), ALTER SYSTEM value ("" = none), desired, expected patches
    [InlineData("65536", "64MB", "64MB", "4MB", "postgres.settings.work_mem=64MB")]     // ALTER SYSTEM + reload
    [InlineData("4096", "4MB", "64MB", "4MB", "postgres.settings.work_mem=64MB")]       // ALTER SYSTEM, not reloaded yet
    [InlineData("65536", "64MB", "", "4MB", "postgres.settings.work_mem=64MB")]         // changed in postgresql.conf, reloaded
    [InlineData("4096", "4MB", "", "4MB", "")]                                          // as desired
    [InlineData("4096", "4MB", "4096kB", "4MB", "")]                                    // same value, other spelling
    public void FromPgSettings_ChangedSetting_ProposesTheObservedValue(string effective, string display, string written, string desired, string expected)
    {
        var observed = new PgSettingsResource.Observed(
            new Dictionary<string, PgSettingsResource.SettingState>(StringComparer.Ordinal)
            {
                ["work_mem"] = Memory(effective, display),
                ["max_connections"] = new("100", "", "integer", "postmaster", false, "100"),
            },
            written.Length == 0 ? new Dictionary<string, string>() : new Dictionary<string, string> { ["work_mem"] = written });
        var want = new Dictionary<string, string>(StringComparer.Ordinal) { ["work_mem"] = desired, ["max_connections"] = "100" };

        Assert.Equal(expected, Patches(DriftAcceptance.FromPgSettings(observed, want)));
    }

    [Fact]
    public void FromPgSettings_SeveralChanged_ProposesEachInNameOrder()
    {
        var observed = new PgSettingsResource.Observed(
            new Dictionary<string, PgSettingsResource.SettingState>(StringComparer.Ordinal)
            {
                ["work_mem"] = Memory("8192", "8MB"),
                ["random_page_cost"] = new("2", "", "real", "user", false, "2"),
            },
            new Dictionary<string, string>());
        var want = new Dictionary<string, string>(StringComparer.Ordinal) { ["work_mem"] = "4MB", ["random_page_cost"] = "1.1" };

        Assert.Equal("postgres.settings.random_page_cost=2 postgres.settings.work_mem=8MB", Patches(DriftAcceptance.FromPgSettings(observed, want)));
    }
}
