using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

/// <summary>
/// The rendered site through FileResource with the real `nginx -t` (installed here, not running).
/// Everything the site names (certificate, logs, cache, webroot) lives in the test's temp root;
/// the validator reads the box's /etc/nginx/mime.types and modules only.
/// </summary>
public sealed class NginxValidatorTests
{
    private const string SitePath = "/etc/nginx/sites-available/odoo";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed class Box : IDisposable
    {
        private readonly TempDirectory root = new();

        private Box()
        {
            Directory.CreateDirectory(root.Combine("etc", "nginx", "sites-available"));
            Directory.CreateDirectory(root.Combine("etc", "ssl", "odoofleet"));
            Directory.CreateDirectory(root.Combine("var", "log", "nginx"));
            Directory.CreateDirectory(root.Combine("var", "cache", "nginx", "odoofleet"));
            Directory.CreateDirectory(root.Combine("var", "www", "acme"));
            Paths = new HostPaths(root.Path);
        }

        public HostPaths Paths { get; }

        public string SiteFile => Paths.Resolve(SitePath);

        public string SiteDirectory => Paths.Resolve("/etc/nginx/sites-available");

        /// <summary>The site as the box sees it: every path the file names is a real one inside the temp root.</summary>
        public NginxSiteSpec Spec(string[] names) =>
            new(names[0], [.. names.Skip(1)], 8069, 8072, Paths.Resolve("/etc/ssl/odoofleet/odoo.crt"), Paths.Resolve("/etc/ssl/odoofleet/odoo.key"), Paths.Resolve("/var/www/acme"))
            {
                LogDirectory = Paths.Resolve("/var/log/nginx"),
                CacheDirectory = Paths.Resolve("/var/cache/nginx/odoofleet"),
            };

        public static async Task<Box> WithCertificateAsync(params string[] names)
        {
            var box = new Box();
            var tls = new TlsCertificateResource(
                box.Paths, new ProcessCommandRunner(), TimeProvider.System,
                new TlsCertificateSpec(names, "/etc/ssl/odoofleet/odoo.crt", "/etc/ssl/odoofleet/odoo.key") { AllowSingleLabelNames = true }, ownership: null);
            var outcome = await NewEngine().RunAsync([tls], ConvergeMode.Apply, Ct);
            Assert.True(outcome.Success, outcome.Error);
            return box;
        }

        public FileResource Site(string content) =>
            new(Paths, new ProcessCommandRunner(), SitePath, Encoding.UTF8.GetBytes(content), FileModes.Mode0644, ownership: null,
                new NginxValidator(new ProcessCommandRunner(), SitePath));

        public void Dispose() => root.Dispose();
    }

    private static ConvergeEngine NewEngine() => new(TimeProvider.System, NullLogger<ConvergeEngine>.Instance);

    private static void SkipWithoutNginx() =>
        Assert.SkipUnless(ProcessCommandRunner.IsOnPath("nginx"), "nginx is not installed");

    // Keyed by description: theory parameters must be public types, the spec is internal.
    private static readonly Dictionary<string, (string[] Names, Func<NginxSiteSpec, NginxSiteSpec> Adjust)> GoodSites = new()
    {
        { "primary and aliases", (["erp.example.com", "www.erp.example.com", "erp.example.org"], s => s) },
        { "primary only", (["erp.example.com"], s => s) },
        { "database manager open", (["erp.example.com"], s => s with { DatabaseManagerOpen = true }) },
        { "IPv4 only", (["erp.example.com", "www.erp.example.com"], s => s with { ListenIPv6 = false }) },
        { "host without DNS", (["odoo1"], s => s with { AllowSingleLabelNames = true }) },
        { "a 253-character alias", (["erp.example.com", Profiles.NginxSiteRendererTests.LongestDomain], s => s) },
        { "a 47-character alias", (["erp.example.com", new string('a', 43) + ".com"], s => s) },
    };

    public static TheoryData<string> GoodSiteNames => [.. GoodSites.Keys];

    [Theory]
    [MemberData(nameof(GoodSiteNames))]
    public async Task Apply_RenderedSite_PassesNginxAndSecondRunIsUnchanged(string variant)
    {
        SkipWithoutNginx();
        var (names, adjust) = GoodSites[variant];
        using var box = await Box.WithCertificateAsync(names);
        var site = NginxSiteRenderer.Render(adjust(box.Spec(names)));

        var first = await NewEngine().RunAsync([box.Site(site)], ConvergeMode.Apply, Ct);
        var second = await NewEngine().RunAsync([box.Site(site)], ConvergeMode.Apply, Ct);

        Assert.True(first.Success, first.Error);
        Assert.Equal(ResourceStatus.Changed, first.Results[0].Status);
        Assert.Equal(ResourceStatus.Unchanged, second.Results[0].Status);
        Assert.Equal(site, await File.ReadAllTextAsync(box.SiteFile, Ct));
        Assert.True(Directory.Exists(box.Spec(names).CachePath), "nginx -t creates the cache zone's directory, as a start would");
    }

    [Theory]
    [InlineData("    gzip on;\n", "    gzip on;\n    odoo_turbo on;\n", "unknown directive \"odoo_turbo\" in /etc/nginx/sites-available/odoo:")]
    [InlineData("    proxy_redirect off;\n", "    proxy_redirect off\n", "in /etc/nginx/sites-available/odoo:")]
    [InlineData("odoo.key;", "missing.key;", "cannot load certificate key")]
    public async Task Apply_BrokenSite_RejectedWithNginxComplaintAndOldFileByteIdentical(string find, string replace, string complaint)
    {
        SkipWithoutNginx();
        using var box = await Box.WithCertificateAsync("erp.example.com");
        var good = NginxSiteRenderer.Render(box.Spec(["erp.example.com"]));
        Assert.True((await NewEngine().RunAsync([box.Site(good)], ConvergeMode.Apply, Ct)).Success);
        var before = await File.ReadAllBytesAsync(box.SiteFile, Ct);
        var broken = good.Replace(find, replace, StringComparison.Ordinal);
        Assert.NotEqual(good, broken);

        var outcome = await NewEngine().RunAsync([box.Site(broken)], ConvergeMode.Apply, Ct);

        var result = outcome.Results[0];
        Assert.Equal(ResourceStatus.Failed, result.Status);
        Assert.StartsWith($"nginx -t rejected the new {SitePath} (the old file is kept): ", result.Message, StringComparison.Ordinal);
        Assert.Contains(complaint, result.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(".tmp-", result.Message, StringComparison.Ordinal);
        Assert.Equal(before, await File.ReadAllBytesAsync(box.SiteFile, Ct));
        Assert.Equal(["odoo"], Directory.GetFiles(box.SiteDirectory).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Apply_SiteNginxOnlyWarnsAbout_RejectedBecauseNginxWouldIgnorePartOfIt()
    {
        SkipWithoutNginx();
        using var box = await Box.WithCertificateAsync("erp.example.com");
        var spec = box.Spec(["erp.example.com"]);
        var shadowing = NginxSiteRenderer.Render(spec) + $$"""

            server {
                listen 443 ssl;
                server_name erp.example.com;
                ssl_certificate {{spec.CertificatePath}};
                ssl_certificate_key {{spec.KeyPath}};
                return 404;
            }

            """;

        var outcome = await NewEngine().RunAsync([box.Site(shadowing)], ConvergeMode.Apply, Ct);

        Assert.Equal(ResourceStatus.Failed, outcome.Results[0].Status);
        Assert.Contains("[warn] conflicting server name \"erp.example.com\" on 0.0.0.0:443, ignored", outcome.Results[0].Message, StringComparison.Ordinal);
        Assert.False(File.Exists(box.SiteFile));
    }

    [Fact]
    public async Task Apply_CertificateMissingOnFirstWrite_RejectedAndNothingWritten()
    {
        SkipWithoutNginx();
        using var box = await Box.WithCertificateAsync("erp.example.com");
        File.Delete(box.Paths.Resolve("/etc/ssl/odoofleet/odoo.crt"));

        var outcome = await NewEngine().RunAsync([box.Site(NginxSiteRenderer.Render(box.Spec(["erp.example.com"])))], ConvergeMode.Apply, Ct);

        Assert.Equal(ResourceStatus.Failed, outcome.Results[0].Status);
        Assert.Contains("cannot load certificate", outcome.Results[0].Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(box.SiteDirectory));
    }

    [Fact]
    public async Task ValidateAsync_NginxNotInstalled_SaysToInstallIt()
    {
        using var box = await Box.WithCertificateAsync("erp.example.com");
        var temp = Path.Combine(box.SiteDirectory, ".odoo.tmp-test");
        await File.WriteAllTextAsync(temp, "", Ct);
        var validator = new NginxValidator(new MissingProgramRunner(), SitePath);

        var error = await Assert.ThrowsAsync<ResourceFailedException>(() => validator.ValidateAsync(temp, Ct));

        Assert.Equal($"cannot validate {SitePath}: nginx is not installed; install the nginx package first", error.Message);
    }

    /// <summary>What the process runner returns when a program is not on PATH.</summary>
    private sealed class MissingProgramRunner : ICommandRunner
    {
        public Task<CommandResult> RunAsync(CommandSpec spec, CancellationToken ct) =>
            Task.FromResult(new CommandResult(CommandResult.NotFoundExitCode, "", $"cannot start '{spec.Program}'", false));
    }
}
