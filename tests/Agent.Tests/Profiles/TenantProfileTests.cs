using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Transport;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Tests.Profiles;

/// <summary>Tenants in the HostSpec: what the profile compiles for them, and specs it refuses.</summary>
public sealed class TenantProfileTests : IDisposable
{
    private static readonly string Commit = new('c', 40);

    private readonly TempDirectory state = new();
    private readonly HttpClient http = new();

    public void Dispose()
    {
        http.Dispose();
        state.Dispose();
    }

    private ProfileEnvironment Environment() =>
        new(new HostPaths("/tmp/not-used"), new ProcessCommandRunner(), http, TimeProvider.System,
            () => new ProfileFacts("web-01", 4, 8L << 30, "debian", "12"))
        {
            StateDirectory = state.Path,
        };

    private static TenantSpec Tenant(string name, params string[] aliases) => new()
    {
        Name = name,
        Database = name,
        PrimaryDomain = $"{name}.erp.example.com",
        Aliases = { aliases },
        Modules = { "base", "sale" },
    };

    private static HostSpec Spec(bool release = true, params TenantSpec[] tenants)
    {
        var spec = new HostSpec
        {
            HostId = "h_1",
            Generation = 3,
            Odoo = new OdooSpec
            {
                Release = release ? new OdooRelease { Series = "18.0", Commit = Commit } : null,
                SourceUrl = "file:///srv/odoo.git",
            },
            Web = new WebSpec { Domains = { "erp.example.com" } },
        };
        spec.Tenants.AddRange(tenants);
        return spec;
    }

    private CompiledProfile Compile(HostSpec spec) => OdooProfile.Compile(spec.ToDomain(), Environment(), persistSecrets: false);

    private static int IndexOf(IReadOnlyList<IResource> ordered, string id)
    {
        var index = ordered.Select(r => r.Id).ToList().IndexOf(id);
        Assert.True(index >= 0, $"{id} is not in the graph: {string.Join(", ", ordered.Select(r => r.Id))}");
        return index;
    }

    [Fact]
    public void Compile_Tenants_SiteCertificateAndDatabaseEachInDependencyOrder()
    {
        var compiled = Compile(Spec(true, Tenant("acme", "erp.acme.com"), Tenant("beta-co")));
        var ordered = ConvergeEngine.Order(compiled.Resources);

        (string Before, string After)[] edges =
        [
            ("tls:/etc/ssl/odoofleet/tenant-acme.crt", "file:/etc/nginx/sites-available/t_acme"),
            ("file:/etc/nginx/sites-available/t_acme", "symlink:/etc/nginx/sites-enabled/t_acme"),
            ("symlink:/etc/nginx/sites-enabled/t_acme", "service:nginx.service"),
            ("symlink:/etc/nginx/sites-enabled/t_beta_co", "service:nginx.service"),
            ("health:odoo", "pg-database:acme"),
            ("pg-database:acme", "odoo-database:acme"),
            ("pg-database:beta-co", "odoo-database:beta-co"),
            ("symlink:/opt/odoo/current", "odoo-database:beta-co"),
        ];
        foreach (var (before, after) in edges)
        {
            Assert.True(IndexOf(ordered, before) < IndexOf(ordered, after), $"{before} must come before {after}");
        }

        var site = compiled.Files.Single(f => f.Path == "/etc/nginx/sites-available/t_acme").Content;
        Assert.Contains("    server_name acme.erp.example.com;\n", site, StringComparison.Ordinal);
        Assert.Contains("    server_name erp.acme.com;\n", site, StringComparison.Ordinal);
        Assert.Contains("        return 301 https://acme.erp.example.com$request_uri;\n", site, StringComparison.Ordinal);
        Assert.Contains("proxy_set_header X-Forwarded-Host acme.erp.example.com;", site, StringComparison.Ordinal);
        Assert.Contains("ssl_certificate /etc/ssl/odoofleet/tenant-acme.crt;", site, StringComparison.Ordinal);
        Assert.Contains("shared:odoofleet_tenants_tls:10m", site, StringComparison.Ordinal);
        Assert.DoesNotContain("proxy_cache_path", site, StringComparison.Ordinal);
        Assert.Contains("dbfilter = ^%d$", compiled.Files.Single(f => f.Path == "/etc/odoo.conf").Content, StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_TenantsWithoutRelease_SitesOnlyAndSaysTheDatabasesWait()
    {
        var compiled = Compile(Spec(false, Tenant("acme")));

        Assert.Contains(compiled.Resources, r => r.Id == "file:/etc/nginx/sites-available/t_acme");
        Assert.DoesNotContain(compiled.Resources, r => r.Kind is "pg-database" or "odoo-database");
        Assert.Contains(compiled.Explanation, e => e.StartsWith("tenants: 1 database(s) wait for the first release", StringComparison.Ordinal));
    }

    [Fact]
    public void Compile_NoTenants_HostSiteUnchanged()
    {
        var without = Compile(Spec(true)).Files.Single(f => f.Path == "/etc/nginx/sites-available/odoo").Content;
        Assert.Contains("proxy_cache_path", without, StringComparison.Ordinal);
        Assert.Contains("shared:odoofleet_odoo_tls:10m", without, StringComparison.Ordinal);
        Assert.DoesNotContain(Compile(Spec(true)).Resources, r => r.Kind is "pg-database" or "odoo-database");
    }

    [Fact]
    public void Compile_LongTenantName_HostSiteSizesTheBucketForAll()
    {
        var tenant = Tenant("acme", new string('a', 60) + ".example.com");
        var host = Compile(Spec(true, tenant)).Files.Single(f => f.Path == "/etc/nginx/sites-available/odoo").Content;
        var site = Compile(Spec(true, tenant)).Files.Single(f => f.Path == "/etc/nginx/sites-available/t_acme").Content;

        Assert.Contains("server_names_hash_bucket_size 128;", host, StringComparison.Ordinal);
        Assert.DoesNotContain("server_names_hash_bucket_size", site, StringComparison.Ordinal);
    }

    // Keyed by what is wrong; each must be refused before anything runs, naming the field.
    private static readonly Dictionary<string, (Func<HostSpec, HostSpec> Break, string Expected)> BadSpecs = new()
    {
        ["domain of the host's own site"] = (s => Spec(true, Tenant("acme", "erp.example.com")), "is served by another tenant or by the host's own site"),
        ["one domain, two tenants"] = (s => Spec(true, Tenant("acme", "shop.example.com"), Tenant("beta", "shop.example.com")), "is served by another tenant"),
        ["primary not %d"] = (s => { var t = Tenant("acme"); t.PrimaryDomain = "erp.acme.com"; return Spec(true, t); }, "reaches database 'erp' through dbfilter ^%d$"),
        ["database other than the name"] = (s => { var t = Tenant("acme"); t.Database = "other"; return Spec(true, t); }, "tenants.acme.database"),
        ["nginx injection in a domain"] = (s => Spec(true, Tenant("acme", "x.example.com;include /etc/passwd")), "is not a DNS name"),
        ["path in the name"] = (s => { var t = Tenant("acme"); t.Name = "../etc"; t.Database = "../etc"; return Spec(true, t); }, "the name must be 2-30"),
        ["underscore in the name"] = (s => { var t = Tenant("acme"); t.Name = "ac_me"; t.Database = "ac_me"; return Spec(true, t); }, "the name must be 2-30"),
        ["bad module"] = (s => { var t = Tenant("acme"); t.Modules.Add("sale --dev=all"); return Spec(true, t); }, "is not an Odoo module name"),
        ["tenant twice"] = (s => Spec(true, Tenant("acme"), Tenant("acme")), "listed twice"),
        ["remote PostgreSQL"] = (s => { var r = Spec(true, Tenant("acme")); r.Postgres = new PostgresSpec { Remote = true, Host = "db1" }; return r; }, "remote PostgreSQL cannot take tenants"),
        ["other dbfilter"] = (s => { var r = Spec(true, Tenant("acme")); r.Odoo.Dbfilter = "^%h$"; return r; }, "tenants need ^%d$"),
        ["clone of itself"] = (s => { var t = Tenant("acme"); t.CloneOf = "acme"; return Spec(true, t); }, "tenants.acme.clone_of"),
        ["clone of a path"] = (s => { var t = Tenant("acme"); t.CloneOf = "../etc"; return Spec(true, t); }, "tenants.acme.clone_of"),
        ["neutralize without a clone"] = (s => { var t = Tenant("acme"); t.Neutralize = true; return Spec(true, t); }, "tenants.acme.neutralize: set without clone_of"),
    };

    public static TheoryData<string> BadSpecNames => [.. BadSpecs.Keys];

    [Theory]
    [MemberData(nameof(BadSpecNames))]
    public void Compile_BadTenant_RefusedNamingTheField(string what)
    {
        var (breakIt, expected) = BadSpecs[what];
        var error = Assert.Throws<SpecValidationException>(() => Compile(breakIt(Spec())));
        Assert.Contains(error.Errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Compile_SuspendedTenant_MaintenanceSiteAndPageWhileTheDatabaseIsKept()
    {
        var suspended = Tenant("acme", "erp.acme.com");
        suspended.State = TenantSpecState.Suspended;
        var compiled = Compile(Spec(true, suspended, Tenant("beta-co")));

        var site = compiled.Files.Single(f => f.Path == "/etc/nginx/sites-available/t_acme").Content;
        var primary = site[site.IndexOf("    server_name acme.erp.example.com;\n", StringComparison.Ordinal)..];
        Assert.Contains("        return 503;\n", primary, StringComparison.Ordinal);
        Assert.Contains($"    error_page 503 /{NginxSiteSpec.MaintenancePage};\n", primary, StringComparison.Ordinal);
        Assert.Contains("        add_header Retry-After 3600 always;\n", primary, StringComparison.Ordinal);
        Assert.Contains("        root /var/www/odoofleet-maintenance;\n", primary, StringComparison.Ordinal);
        Assert.DoesNotContain("proxy_pass", site, StringComparison.Ordinal);
        Assert.Contains("    server_name erp.acme.com;\n", site, StringComparison.Ordinal);
        Assert.Contains("proxy_pass http://odoofleet_t_beta_co_http;", compiled.Files.Single(f => f.Path == "/etc/nginx/sites-available/t_beta_co").Content, StringComparison.Ordinal);

        var page = compiled.Files.Single(f => f.Path == $"/var/www/odoofleet-maintenance/{NginxSiteSpec.MaintenancePage}").Content;
        Assert.StartsWith("<!doctype html>", page, StringComparison.Ordinal);
        var ordered = ConvergeEngine.Order(compiled.Resources);
        Assert.True(IndexOf(ordered, $"file:/var/www/odoofleet-maintenance/{NginxSiteSpec.MaintenancePage}") < IndexOf(ordered, "file:/etc/nginx/sites-available/t_acme"));
        Assert.Contains(compiled.Resources, r => r.Id == "pg-database:acme");
        Assert.DoesNotContain(compiled.Resources, r => r.Kind == "tenant-removal");
    }

    [Fact]
    public void Compile_Clone_SeededFromItsSourceAfterTheSourceAndBeforeItsDatabase()
    {
        var clone = Tenant("acme-stage");
        clone.CloneOf = "acme";
        clone.Neutralize = true;
        var compiled = Compile(Spec(true, Tenant("acme"), clone));
        var ordered = ConvergeEngine.Order(compiled.Resources);

        var seed = compiled.Resources.Single(r => r.Kind == "tenant-clone");
        Assert.Equal("tenant-clone:acme-stage", seed.Id);
        Assert.Contains("odoo-database:acme", seed.DependsOn);
        Assert.True(IndexOf(ordered, "odoo-database:acme") < IndexOf(ordered, "tenant-clone:acme-stage"));
        Assert.True(IndexOf(ordered, "tenant-clone:acme-stage") < IndexOf(ordered, "pg-database:acme-stage"));
        Assert.True(IndexOf(ordered, "pg-database:acme-stage") < IndexOf(ordered, "odoo-database:acme-stage"));
        Assert.DoesNotContain(compiled.Resources, r => r.Id == "tenant-clone:acme");
        Assert.Contains(compiled.Explanation, e => e.StartsWith("tenants: 1 clone(s) seeded once", StringComparison.Ordinal) && e.EndsWith("neutralized (odoo-bin neutralize): acme-stage", StringComparison.Ordinal));
    }

    [Fact]
    public void Compile_AbsentTenant_RemovalAfterPostgresInsteadOfSiteAndDatabase()
    {
        var deleted = Tenant("acme", "erp.acme.com");
        deleted.State = TenantSpecState.Absent;
        var spec = Spec(true, deleted, Tenant("beta-co"));
        spec.TenantArchiveRetentionDays = 7;
        var compiled = Compile(spec);

        Assert.DoesNotContain(compiled.Resources, r => r.Id.Contains("t_acme", StringComparison.Ordinal) || r.Id.EndsWith(":acme", StringComparison.Ordinal) && r.Kind != "tenant-removal");
        Assert.DoesNotContain(compiled.Files, f => f.Path.Contains("t_acme", StringComparison.Ordinal));
        var removal = compiled.Resources.Single(r => r.Kind == "tenant-removal");
        Assert.Equal("tenant-removal:acme", removal.Id);
        Assert.Contains("service:postgresql.service", removal.DependsOn);
        Assert.Contains(compiled.Resources, r => r.Id == "pg-database:beta-co");
        Assert.Contains(compiled.Resources, r => r.Kind == "tenant-archive-prune");
        Assert.Contains(compiled.Explanation, e => e.StartsWith("tenants: 1 deleted; each is archived first", StringComparison.Ordinal) && e.Contains("kept 7 days", StringComparison.Ordinal));
    }

    [Fact]
    public void ToDomain_UnknownTenantState_RefusedNamingTheField()
    {
        var future = Tenant("acme");
        future.State = (TenantSpecState)7;

        var error = Assert.Throws<SpecValidationException>(() => Spec(true, future).ToDomain());

        Assert.Contains("tenants.acme.state: 7 is not a tenant state", error.Message, StringComparison.Ordinal);
    }
}
