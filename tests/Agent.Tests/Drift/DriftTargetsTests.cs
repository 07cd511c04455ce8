using OdooFleet.Agent.Drift;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Transport;
using Proto = OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Tests.Drift;

/// <summary>What the monitor watches for the real profile's graph.</summary>
public sealed class DriftTargetsTests : IDisposable
{
    private readonly TempDirectory state = new();
    private readonly HttpClient http = new();

    public void Dispose()
    {
        http.Dispose();
        state.Dispose();
    }

    [Fact]
    public void For_OdooProfile_WatchesManagedFilesAndUnitsButNotIgnoredOrLogs()
    {
        var paths = new HostPaths("/srv/root");
        var env = new ProfileEnvironment(paths, new ProcessCommandRunner(), http, TimeProvider.System, () => new ProfileFacts("web-01", 2, 4L << 30, "debian", "12"))
        {
            StateDirectory = state.Path,
        };
        var spec = new Proto.HostSpec
        {
            HostId = "h-3kq9t2mzpa",
            Generation = 2,
            Odoo = new Proto.OdooSpec { Release = new Proto.OdooRelease { Series = "18.0", Commit = new string('c', 40) }, SourceUrl = "file:///srv/odoo.git" },
            Web = new Proto.WebSpec { Domains = { "erp.example.com" } },
        };
        var resources = OdooProfile.Compile(spec.ToDomain(), env, persistSecrets: false).Resources;
        var policy = DriftPolicy.Create(new DriftPolicySpec { Ignore = ["file:/etc/logrotate.d/odoo"] }, out _);

        var targets = DriftTargets.For(2, resources, paths, policy);

        Assert.Equal(["file:/etc/odoo.conf"], targets.ResourcesByPath["/srv/root/etc/odoo.conf"]);
        Assert.Equal(["pg-hba:15/main"], targets.ResourcesByPath["/srv/root/etc/postgresql/15/main/pg_hba.conf"]);
        Assert.Equal(["sysctl:/etc/sysctl.d/60-odoofleet.conf"], targets.ResourcesByPath["/srv/root/etc/sysctl.d/60-odoofleet.conf"]);
        Assert.Contains("/srv/root/etc/fail2ban/jail.d/odoofleet.conf", targets.ResourcesByPath.Keys);
        Assert.Contains("/srv/root/etc/nginx/sites-enabled/odoo", targets.ResourcesByPath.Keys);
        Assert.Contains("/srv/root/etc/systemd/system/odoo.service", targets.ResourcesByPath.Keys);
        Assert.DoesNotContain("/srv/root/etc/logrotate.d/odoo", targets.ResourcesByPath.Keys);
        Assert.DoesNotContain(targets.ResourcesByPath.Keys, p => p.StartsWith("/srv/root/var/log", StringComparison.Ordinal));
        Assert.Equal(["fail2ban.service", "nginx.service", "odoo.service", "postgresql.service"], targets.ResourceByUnit.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("/srv/root/etc/nginx/sites-available", targets.Directories);
    }
}
