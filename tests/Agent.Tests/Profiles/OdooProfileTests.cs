using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Transport;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Tests.Profiles;

/// <summary>The profile's compile step: graph shape and order, and bad specs refused before anything runs.</summary>
public sealed class OdooProfileTests : IDisposable
{
    private static readonly string Commit = new('c', 40);

    private readonly TempDirectory state = new();
    private readonly HttpClient http = new();

    public void Dispose()
    {
        http.Dispose();
        state.Dispose();
    }

    private ProfileEnvironment Environment(int cores = 4, long memoryGiB = 8, string os = "debian:12") =>
        new(new HostPaths("/tmp/not-used"), new ProcessCommandRunner(), http, TimeProvider.System,
            () => new ProfileFacts("web-01", cores, memoryGiB << 30, os.Split(':')[0], os.Split(':')[1]))
        {
            StateDirectory = state.Path,
        };

    private static HostSpec Spec(string commit = "", bool release = true) => new()
    {
        HostId = "h_1",
        Generation = 3,
        Odoo = new OdooSpec
        {
            Release = release ? new OdooRelease { Series = "18.0", Commit = commit.Length > 0 ? commit : Commit } : null,
            SourceUrl = "file:///srv/odoo.git",
        },
        Web = new WebSpec { Domains = { "erp.example.com" } },
    };

    private CompiledProfile Compile(HostSpec spec, ProfileEnvironment? env = null) =>
        OdooProfile.Compile(spec.ToDomain(), env ?? Environment(), persistSecrets: false);

    private static int IndexOf(IReadOnlyList<IResource> ordered, string id)
    {
        var index = ordered.Select(r => r.Id).ToList().IndexOf(id);
        Assert.True(index >= 0, $"{id} is not in the graph: {string.Join(", ", ordered.Select(r => r.Id))}");
        return index;
    }

    [Fact]
    public void Compile_WithRelease_EveryPartInDependencyOrder()
    {
        var ordered = ConvergeEngine.Order(Compile(Spec()).Resources);

        (string Before, string After)[] edges =
        [
            ("packages:odoo-host", "service:postgresql.service"),
            ("service:postgresql.service", "pg-settings:15/main"),
            ("service:postgresql.service", "pg-hba:15/main"),
            ("service:postgresql.service", "pg-role:odoo"),
            ($"release:18.0-{Commit}", $"venv:/opt/odoo/releases/18.0-{Commit}/.venv"),
            ($"venv:/opt/odoo/releases/18.0-{Commit}/.venv", "symlink:/opt/odoo/current"),
            ("symlink:/opt/odoo/current", "service:odoo.service"),
            ("file:/etc/odoo.conf", "service:odoo.service"),
            ("pg-role:odoo", "service:odoo.service"),
            ("service:odoo.service", "health:odoo"),
            ("tls:/etc/ssl/odoofleet/odoo.crt", "file:/etc/nginx/sites-available/odoo"),
            ("file:/etc/nginx/sites-available/odoo", "symlink:/etc/nginx/sites-enabled/odoo"),
            ("symlink:/etc/nginx/sites-enabled/odoo", "service:nginx.service"),
            ("logfile:/var/log/odoo/odoo.log", "file:/etc/fail2ban/jail.d/odoofleet.conf"),
            ("file:/etc/fail2ban/filter.d/odoo-login.conf", "file:/etc/fail2ban/jail.d/odoofleet.conf"),
            ("file:/etc/fail2ban/jail.d/odoofleet.conf", "service:fail2ban.service"),
            ("packages:odoo-host", "firewall:ufw"),
        ];
        foreach (var (before, after) in edges)
        {
            Assert.True(IndexOf(ordered, before) < IndexOf(ordered, after), $"{before} must come before {after}");
        }

        Assert.Contains(ordered, r => r.Id == "file:/etc/logrotate.d/odoo");
        Assert.Contains(ordered, r => r.Id == "file:/etc/apt/apt.conf.d/52odoofleet-unattended-upgrades");
        Assert.Contains(ordered, r => r.Id == "absent:/etc/nginx/sites-enabled/default");
    }

    [Fact]
    public void Compile_NoRelease_BaselineWithoutOdooService()
    {
        var ids = Compile(Spec(release: false)).Resources.Select(r => r.Id).ToList();

        Assert.Contains("packages:odoo-host", ids);
        Assert.Contains("pg-settings:15/main", ids);
        Assert.Contains("service:nginx.service", ids);
        Assert.Contains("firewall:ufw", ids);
        Assert.Contains("file:/etc/odoo.conf", ids);
        Assert.DoesNotContain(ids, id => id.StartsWith("release:", StringComparison.Ordinal) || id.StartsWith("venv:", StringComparison.Ordinal));
        Assert.DoesNotContain("service:odoo.service", ids);
        Assert.DoesNotContain("health:odoo", ids);
    }

    [Fact]
    public void Compile_RemotePostgres_NoLocalClusterAndRemoteConnection()
    {
        var spec = Spec();
        spec.Postgres = new PostgresSpec { Remote = true, Host = "db.internal.example.com", User = "odoo_web", Sslmode = "verify-full" };

        var profile = Compile(spec);

        Assert.DoesNotContain(profile.Resources, r => r.Id.StartsWith("pg-", StringComparison.Ordinal));
        var conf = profile.Files.Single(f => f.Path == "/etc/odoo.conf").Content;
        Assert.Contains("db_host = db.internal.example.com\n", conf, StringComparison.Ordinal);
        Assert.Contains("db_sslmode = verify-full\n", conf, StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_Ubuntu2204_PostgresFromPgdgBeforeThePackages()
    {
        var ordered = ConvergeEngine.Order(Compile(Spec(), Environment(os: "ubuntu:22.04")).Resources);

        Assert.True(IndexOf(ordered, "file:/etc/apt/sources.list.d/pgdg.sources") < IndexOf(ordered, "packages:odoo-host"));
        Assert.Contains(ordered, r => r.Id == "pg-settings:16/main");
    }

    [Fact]
    public void Compile_Files_AdminHashRedactedAndTuningWritten()
    {
        var files = Compile(Spec()).Files;

        var conf = files.Single(f => f.Path == "/etc/odoo.conf").Content;
        Assert.Contains("admin_passwd = <redacted>\n", conf, StringComparison.Ordinal);
        Assert.Contains("workers = 9\n", conf, StringComparison.Ordinal);
        Assert.Contains("http_interface = 127.0.0.1\n", conf, StringComparison.Ordinal);
        Assert.Contains("list_db = False\n", conf, StringComparison.Ordinal);
        Assert.Contains(files, f => f.Path == "/etc/nginx/sites-available/odoo" && f.Content.Contains("server_name erp.example.com;", StringComparison.Ordinal));
    }

    [Fact]
    public void Compile_CheckMode_KeepsNoSecretButApplyKeepsTheSameHash()
    {
        Compile(Spec());
        Assert.Empty(Directory.GetFiles(state.Path));

        var hashFile = Path.Combine(state.Path, AdminHashStore.FileName);
        OdooProfile.Compile(Spec().ToDomain(), Environment(), persistSecrets: true);
        var kept = File.ReadAllText(hashFile);
        OdooProfile.Compile(Spec().ToDomain(), Environment(), persistSecrets: true);

        Assert.StartsWith("$pbkdf2-sha512$600000$", kept, StringComparison.Ordinal);
        Assert.Equal(kept, File.ReadAllText(hashFile));
        Assert.Equal(FileModes.Mode0600, File.GetUnixFileMode(hashFile));
    }

    public static TheoryData<string, Action<HostSpec>> BadSpecs => new()
    {
        { "odoo.conf.", s => s.Odoo.Options["redis_host"] = "localhost" },
        { "odoo.conf.", s => s.Odoo.Options["workers"] = "4" },
        { "odoo.conf.", s => s.Odoo.Options["limit_time_cpu"] = "60\nadmin_passwd = x" },
        { "odoo.log_level", s => s.Odoo.LogLevel = "info_rpc" },
        { "web.domains", s => s.Web.Domains.Add("evil.example.com;\n}") },
        { "web.domains", s => s.Web.Domains.Add("a{b}.example.com") },
        { "web.domains", s => s.Web.Domains.Add("Upper.Example.com") },
        { "dbfilter", s => s.Odoo.Dbfilter = "^%d$\nlist_db = True" },
        { "odoo.workers", s => s.Odoo.Workers = 40 },
        { "postgres.host", s => s.Postgres = new PostgresSpec { Remote = true, Host = "db;rm -rf /" } },
        { "odoo.wheelhouse", s => s.Odoo.Wheelhouse = "/srv/wheels with space" },
        { "web.acme_email", s => s.Web.Tls = Contracts.V1.TlsMode.Acme },
        { "odoo.release.commit", s => s.Odoo.Release.Commit = "HEAD" },
    };

    [Theory]
    [MemberData(nameof(BadSpecs))]
    public void Compile_BadSpec_RefusedNamingTheField(string field, Action<HostSpec> spoil)
    {
        var spec = Spec();
        spoil(spec);

        var e = Assert.Throws<SpecValidationException>(() => Compile(spec));

        Assert.Contains(e.Errors, m => m.Contains(field, StringComparison.Ordinal));
        Assert.All(e.Errors, m => Assert.DoesNotContain("\n", m, StringComparison.Ordinal));
    }

    [Fact]
    public void Compile_UnsupportedOs_Refused()
    {
        var e = Assert.Throws<SpecValidationException>(() => Compile(Spec(), Environment(os: "ubuntu:20.04")));
        Assert.Contains("not supported", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RunningRelease_CurrentLinkToRelease_ParsesSeriesAndCommit()
    {
        using var root = new TempDirectory();
        Directory.CreateDirectory(root.Combine("opt", "odoo"));
        File.CreateSymbolicLink(root.Combine("opt", "odoo", "current"), $"/opt/odoo/releases/18.0-{Commit}");
        Assert.Equal(new ReleaseRef("18.0", Commit), OdooProfile.RunningRelease(new HostPaths(root.Path), OdooLayout.Default));
    }

    [Fact]
    public void RunningRelease_NoLink_IsNull()
    {
        using var root = new TempDirectory();
        Assert.Null(OdooProfile.RunningRelease(new HostPaths(root.Path), OdooLayout.Default));
    }
}
