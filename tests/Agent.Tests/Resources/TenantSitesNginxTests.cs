using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

/// <summary>
/// Tenant sites through the real `nginx -t`: each alone (as the agent validates it before the
/// swap) and all of them with the host's site in one http block, as nginx loads them live.
/// </summary>
public sealed class TenantSitesNginxTests : IDisposable
{
    private readonly TempDirectory root = new();

    public TenantSitesNginxTests()
    {
        foreach (var dir in new[] { "etc/nginx/sites-available", "etc/ssl/odoofleet", "var/log/nginx", "var/cache/nginx/odoofleet", "var/www/acme" })
        {
            Directory.CreateDirectory(Path.Combine(root.Path, dir));
        }

        Paths = new HostPaths(root.Path);
    }

    private HostPaths Paths { get; }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => root.Dispose();

    private static void SkipWithoutNginx() =>
        Assert.SkipUnless(ProcessCommandRunner.IsOnPath("nginx"), "nginx is not installed");

    private static ConvergeEngine NewEngine() => new(TimeProvider.System, NullLogger<ConvergeEngine>.Instance);

    private async Task<NginxSiteSpec> SiteAsync(string siteName, string[] names, bool tenant)
    {
        var cert = $"/etc/ssl/odoofleet/{siteName}.crt";
        var key = $"/etc/ssl/odoofleet/{siteName}.key";
        var tls = new TlsCertificateResource(Paths, new ProcessCommandRunner(), TimeProvider.System, new TlsCertificateSpec(names, cert, key), ownership: null);
        var outcome = await NewEngine().RunAsync([tls], ConvergeMode.Apply, Ct);
        Assert.True(outcome.Success, outcome.Error);
        return new NginxSiteSpec(names[0], [.. names.Skip(1)], 8069, 8072, Paths.Resolve(cert), Paths.Resolve(key), Paths.Resolve("/var/www/acme"))
        {
            SiteName = siteName,
            OwnsHttpSettings = !tenant,
            LogDirectory = Paths.Resolve("/var/log/nginx"),
            CacheDirectory = Paths.Resolve("/var/cache/nginx/odoofleet"),
        };
    }

    [Fact]
    public async Task Apply_TenantSiteWithLongAlias_PassesNginxAloneWithThePreambleAndSecondRunIsUnchanged()
    {
        SkipWithoutNginx();
        var longAlias = new string('a', 60) + ".example.com";
        var spec = await SiteAsync("t_acme", ["acme.erp.example.com", longAlias], tenant: true);
        var content = Encoding.UTF8.GetBytes(NginxSiteRenderer.Render(spec));
        FileResource Site(string preamble) => new(Paths, new ProcessCommandRunner(), spec.AvailablePath, content, FileModes.Mode0644, ownership: null,
            new NginxValidator(new ProcessCommandRunner(), spec.AvailablePath, httpPreamble: preamble));

        var withoutPreamble = await NewEngine().RunAsync([Site("")], ConvergeMode.Apply, Ct);
        Assert.Equal(ResourceStatus.Failed, withoutPreamble.Results[0].Status);
        Assert.Contains("server_names_hash", withoutPreamble.Results[0].Message, StringComparison.Ordinal);

        var preamble = NginxSiteRenderer.ValidationPreamble(longAlias.Length);
        var first = await NewEngine().RunAsync([Site(preamble)], ConvergeMode.Apply, Ct);
        var second = await NewEngine().RunAsync([Site(preamble)], ConvergeMode.Apply, Ct);
        Assert.True(first.Success, first.Error);
        Assert.Equal(ResourceStatus.Unchanged, second.Results[0].Status);
    }

    [Fact]
    public async Task NginxT_HostSiteAndSixtyTenantSitesTogether_NoErrorOrWarning()
    {
        SkipWithoutNginx();
        var includes = new StringBuilder();
        var longest = 0;
        var tenants = new List<NginxSiteSpec>();
        for (var i = 0; i < 60; i++)
        {
            var name = string.Create(CultureInfo.InvariantCulture, $"tenant-{i:D2}");
            string[] names = [$"{name}.erp.example.com", $"www.{name}.example.org"];
            longest = Math.Max(longest, names.Max(n => n.Length));
            tenants.Add(await SiteAsync("t_" + name.Replace('-', '_'), names, tenant: true));
        }

        var host = (await SiteAsync("odoo", ["erp.example.com"], tenant: false)) with { LongestOtherName = longest, OtherNameCount = tenants.Sum(t => t.AllNames.Count) };
        foreach (var site in (NginxSiteSpec[])[host, .. tenants])
        {
            var path = Paths.Resolve(site.AvailablePath);
            await File.WriteAllTextAsync(path, NginxSiteRenderer.Render(site), Ct);
            includes.Append("    include ").Append(path).Append(";\n");
        }

        var main = Path.Combine(root.Path, "nginx.conf");
        var errorLog = Path.Combine(root.Path, "error.log");
        await File.WriteAllTextAsync(main, $$"""
            pid {{root.Path}}/nginx.pid;
            error_log {{errorLog}};
            include /etc/nginx/modules-enabled/*.conf;
            events {
            }
            http {
                include /etc/nginx/mime.types;
                types_hash_max_size 2048;
            {{includes}}}

            """, Ct);

        var result = await new ProcessCommandRunner().RunAsync(
            new CommandSpec("nginx", ["-t", "-p", root.Path + "/", "-c", main, "-e", errorLog]) { Timeout = TimeSpan.FromMinutes(1) }, Ct);

        Assert.True(result.Succeeded, result.Stderr);
        var complaints = result.Stderr.Split('\n').Where(l => l.Contains("[warn]", StringComparison.Ordinal) || l.Contains("[emerg]", StringComparison.Ordinal))
            .Where(l => !l.Contains("http2\" directive is deprecated", StringComparison.Ordinal));
        Assert.Empty(complaints);
    }

    [Fact]
    public async Task Apply_SuspendedTenantSite_PassesNginxAloneAndWithTheHostSiteAndSecondRunIsUnchanged()
    {
        SkipWithoutNginx();
        var spec = (await SiteAsync("t_acme", ["acme.erp.example.com", "erp.acme.com"], tenant: true)) with
        {
            Maintenance = true,
            MaintenanceRoot = Paths.Resolve(NginxSiteSpec.DefaultMaintenanceRoot),
        };
        var content = Encoding.UTF8.GetBytes(NginxSiteRenderer.Render(spec));
        FileResource Site() => new(Paths, new ProcessCommandRunner(), spec.AvailablePath, content, FileModes.Mode0644, ownership: null,
            new NginxValidator(new ProcessCommandRunner(), spec.AvailablePath));

        var first = await NewEngine().RunAsync([Site()], ConvergeMode.Apply, Ct);
        var second = await NewEngine().RunAsync([Site()], ConvergeMode.Apply, Ct);

        Assert.True(first.Success, first.Error);
        Assert.Equal(ResourceStatus.Changed, first.Results[0].Status);
        Assert.Equal(ResourceStatus.Unchanged, second.Results[0].Status);

        // Live, the host's site owns the http settings the tenant's maintenance block shares.
        var host = await SiteAsync("odoo", ["erp.example.com"], tenant: false) with { OtherNameCount = spec.AllNames.Count };
        var result = await NginxTestAsync(host, spec);
        Assert.True(result.Succeeded, result.Stderr);
        Assert.DoesNotContain("[warn]", result.Stderr.Replace("http2\" directive is deprecated", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    private async Task<CommandResult> NginxTestAsync(params NginxSiteSpec[] sites)
    {
        var includes = new StringBuilder();
        foreach (var site in sites)
        {
            var path = Paths.Resolve(site.AvailablePath);
            await File.WriteAllTextAsync(path, NginxSiteRenderer.Render(site), Ct);
            includes.Append("    include ").Append(path).Append(";\n");
        }

        var main = Path.Combine(root.Path, "nginx.conf");
        var errorLog = Path.Combine(root.Path, "error.log");
        await File.WriteAllTextAsync(main, $$"""
            pid {{root.Path}}/nginx.pid;
            error_log {{errorLog}};
            include /etc/nginx/modules-enabled/*.conf;
            events {
            }
            http {
                include /etc/nginx/mime.types;
                types_hash_max_size 2048;
            {{includes}}}

            """, Ct);
        return await new ProcessCommandRunner().RunAsync(
            new CommandSpec("nginx", ["-t", "-p", root.Path + "/", "-c", main, "-e", errorLog]) { Timeout = TimeSpan.FromMinutes(1) }, Ct);
    }
}
