using System.Text;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.IO;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Profiles;

/// <summary>What the profile needs to know about the machine (collected facts, or given to `render`).</summary>
internal sealed record ProfileFacts(string Hostname, int CpuCores, long MemoryBytes, string OsId, string OsVersion);

/// <summary>What the profile needs besides the spec: where, how to run programs, how to wait, what the host is.</summary>
internal sealed record ProfileEnvironment(HostPaths Paths, ICommandRunner Runner, HttpClient Http, TimeProvider Time, Func<ProfileFacts> Facts)
{
    public OdooLayout Layout { get; init; } = OdooLayout.Default;
    public TimeSpan HealthDeadline { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan HealthInterval { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan GitTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Where release artifacts come from (the controllers); null outside the agent service (a manual converge cannot download).</summary>
    public Release.IReleaseArtifactSource? Artifacts { get; init; }

    /// <summary>Where the agent keeps its own state (the admin password hash it made).</summary>
    public string StateDirectory { get; init; } = Configuration.AgentConfig.DefaultStateDirectory;
}

/// <summary>One file the profile manages, as `render` writes it for review (secret values blanked).</summary>
internal sealed record ManagedFile(string Path, string Content, UnixFileMode Mode);

/// <summary>The resource graph for one converge, the sizing arithmetic, and the files it would write.</summary>
internal sealed record CompiledProfile(IReadOnlyList<IResource> Resources, IReadOnlyList<string> Explanation, IReadOnlyList<ManagedFile> Files)
{
    /// <summary>The resources that put a release in place without switching to it (release tree and venv); empty without a release.</summary>
    public IReadOnlySet<string> StageIds { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>The local cluster Odoo's databases live in; null when PostgreSQL is remote.</summary>
    public PostgresCluster? Cluster { get; init; }
}

/// <summary>
/// The Odoo 18 host profile: the seed guides' production procedure, corrected by SEED-ERRATA,
/// compiled from the host's facts and its HostSpec into typed resources. Everything is rendered
/// and validated here, before the engine touches anything: one bad value refuses the whole spec.
/// Without a release (before the first rollout) the host still converges to the baseline:
/// packages, PostgreSQL, nginx with TLS, firewall, fail2ban, log rotation, security upgrades.
/// </summary>
internal static class OdooProfile
{
    public const string TlsDirectory = "/etc/ssl/odoofleet";
    public const string AcmeWebroot = "/var/www/odoofleet-acme";
    public const string SysctlPath = "/etc/sysctl.d/60-odoofleet.conf";

    /// <summary>What Odoo's Python requirements need to build from source when no wheelhouse is given (seed guide).</summary>
    private static readonly string[] BuildDependencies =
    [
        "build-essential", "python3-dev", "libxml2-dev", "libxslt1-dev", "libldap2-dev", "libsasl2-dev",
        "libssl-dev", "libjpeg-dev", "libpq-dev", "zlib1g-dev", "libffi-dev",
    ];

    public static CompiledProfile Compile(DesiredHost host, ProfileEnvironment env, bool persistSecrets)
    {
        var odoo = host.Odoo;
        var errors = SpecValidator.Validate(odoo).ToList();
        errors.AddRange(SpecValidator.Validate(host.Postgres, host.Web, host.Security));
        errors.AddRange(SpecValidator.Validate(host.Tenants, odoo, host.Postgres, host.Web));
        if (errors.Count > 0)
        {
            throw new SpecValidationException(errors);
        }

        var facts = env.Facts();
        var os = OsProfile.Resolve(facts.OsId, facts.OsVersion);
        var local = !host.Postgres.Remote;
        var tuning = Tuning.Compute(new TuningInput(facts.CpuCores, facts.MemoryBytes, local)
        {
            Workers = odoo.Workers,
            MaxCronThreads = odoo.MaxCronThreads,
        });
        var explanation = new List<string>(tuning.Explanation);
        var builder = new Builder(env);
        var layout = env.Layout;
        var (paths, runner) = (env.Paths, env.Runner);
        var rootOwned = new Ownership("root", "root");
        var odooOwned = new Ownership(layout.User, layout.Group);

        // Packages. On Ubuntu 22.04 PostgreSQL comes from PGDG, whose key postgresql-common ships.
        var packageDependencies = new List<string>();
        if (local && os.PostgresFromPgdg)
        {
            var keyPackages = builder.Add(new AptPackagesResource(runner, new AptPackagesSpec("pgdg-key", ["postgresql-common", "ca-certificates"])));
            packageDependencies.Add(builder.File(OsProfile.PgdgSourceFile, os.PgdgSource, FileModes.Mode0644, rootOwned, deps: [keyPackages]));
        }

        var packages = builder.Add(new AptPackagesResource(runner, new AptPackagesSpec("odoo-host", PackagesFor(host, os))) { DependsOn = packageDependencies });
        explanation.Add("wkhtmltopdf: the distribution's build (0.12.6 without patched Qt) is installed; Odoo's PDF headers and footers "
            + "need the patched 0.12.6.1 build: publish it in a local apt repository to replace it (SEED-ERRATA #20)");

        // System user and directories (the guide's permissions: 0750 for Odoo's own trees).
        var user = builder.Add(new SystemUserResource(runner, layout.User, layout.Home, layout.Shell));
        var home = builder.Add(new DirectoryResource(paths, runner, layout.Home, FileModes.Mode0750, odooOwned) { DependsOn = [user] });
        var releases = builder.Add(new DirectoryResource(paths, runner, layout.ReleasesDir, FileModes.Mode0750, odooOwned) { DependsOn = [home] });
        var dataDir = builder.Add(new DirectoryResource(paths, runner, layout.DataDir, FileModes.Mode0750, odooOwned) { DependsOn = [user] });
        var logDir = builder.Add(new DirectoryResource(paths, runner, layout.LogDir, FileModes.Mode0750, odooOwned) { DependsOn = [user] });
        var logFile = builder.Add(new LogFileResource(paths, runner, layout.LogFile, FileModes.Mode0640, odooOwned) { DependsOn = [logDir] });
        builder.Add(new SysctlResource(paths, new SysctlSpec(new Dictionary<string, string>(StringComparer.Ordinal)
        {
            // nginx and Odoo's workers accept bursts of connections: the default backlog of 4096 on
            // newer kernels, 128 on older ones, is raised or kept.
            ["net.core.somaxconn"] = "4096",
        })));

        // PostgreSQL: local cluster with peer auth and computed settings, or a remote server.
        var odooDependsOnDatabase = new List<string>();
        PostgresCluster? localCluster = null;
        string? postgresRunning = null;
        if (local)
        {
            var cluster = localCluster = LocalCluster(os);
            var pgService = postgresRunning = builder.Add(new ServiceResource(runner, "postgresql.service", Empty, Empty) { DependsOn = [packages] });
            var settings = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, value) in tuning.Postgres!.Settings)
            {
                settings[key] = value;
            }

            foreach (var (key, value) in host.Postgres.Settings)
            {
                settings[key] = value;
            }

            builder.Add(new PgSettingsResource(runner, cluster, env.Time, new PgSettingsSpec(settings)) { DependsOn = [pgService] });
            var hba = new PgHbaSpec(
            [
                new PgHbaRule("local", "all", "all", null, "peer"),
                new PgHbaRule("host", "all", "all", "127.0.0.1/32", "scram-sha-256"),
                new PgHbaRule("host", "all", "all", "::1/128", "scram-sha-256"),
            ]);
            builder.Add(new PgHbaResource(runner, cluster, env.Time, hba) { DependsOn = [pgService] });
            builder.Record($"/etc/postgresql/{cluster.Version}/{cluster.Name}/pg_hba.conf", PgHbaResource.Render(cluster, hba), FileModes.Mode0640);
            odooDependsOnDatabase.Add(builder.Add(new PgRoleResource(runner, cluster, new PgRoleSpec(layout.User, Login: true, CreateDb: true)) { DependsOn = [pgService] }));
            explanation.Add($"PostgreSQL {cluster.Version} on this host: role {layout.User} (login, createdb, not superuser) with peer authentication");
        }
        else
        {
            explanation.Add($"PostgreSQL is remote ({host.Postgres.Host}:{host.Postgres.Port}, sslmode {host.Postgres.SslMode}): no local cluster");
        }

        // odoo.conf: only Odoo 18 options, validated by Python's configparser as Odoo reads it.
        var conf = builder.File(
            layout.ConfFile,
            OdooConfRenderer.Render(new OdooConfInput
            {
                HttpPort = odoo.HttpPort,
                GeventPort = odoo.GeventPort,
                DataDir = layout.DataDir,
                LogFile = layout.LogFile,
                LogLevel = odoo.LogLevel,
                DbFilter = odoo.DbFilter,
                AdminPasswordHash = odoo.AdminPasswdHash ?? AdminHashStore.LoadOrCreate(env.StateDirectory, persistSecrets),
                AddonsPaths = layout.AddonsPaths,
                Database = local
                    ? new LocalPeerDatabase(layout.User)
                    : new RemoteDatabase(host.Postgres.Host!, host.Postgres.Port, host.Postgres.User, host.Postgres.Password, host.Postgres.SslMode),
                Tuning = tuning,
                Overrides = odoo.Options,
            }),
            FileModes.Mode0640,
            new Ownership("root", layout.Group),
            new OdooConfValidator(runner),
            deps: [packages, user],
            redact: OdooConfRenderer.Redact);

        var unit = builder.File(
            layout.UnitFile, OdooUnitRenderer.Render(layout, local), FileModes.Mode0644, rootOwned,
            new SystemdUnitValidator(runner, layout.UnitName, layout.Python));

        var stageIds = new HashSet<string>(StringComparer.Ordinal);
        if (odoo.Release is { } release)
        {
            string? venv = null;
            if (odoo.ReleaseKept)
            {
                explanation.Add($"release {release} is kept: this generation's change of release was reverted; a new generation from the controller decides what runs");
            }
            else
            {
                var checkout = builder.Add(odoo.Artifact is { } artifact
                    ? new ReleaseArtifactResource(paths, runner, env.Artifacts, layout.ReleasesDir, release, artifact) { DependsOn = [releases, packages] }
                    : new ReleaseCheckoutResource(paths, runner, layout.ReleasesDir, release, odoo.SourceUrl, env.GitTimeout) { DependsOn = [releases, packages] });
                venv = builder.Add(new VenvResource(paths, runner, new VenvSpec(layout.ReleaseDir(release))
                {
                    Wheelhouse = odoo.Wheelhouse,
                    UseReleaseWheelhouse = odoo.Artifact is not null,
                    Owner = odooOwned,
                })
                { DependsOn = [checkout] });
                stageIds.UnionWith([checkout, venv]);
            }

            var current = builder.Add(new SymlinkResource(paths, layout.CurrentLink, layout.ReleaseDir(release)) { DependsOn = [venv ?? releases] });
            var restartOn = Set(current, conf, unit);
            if (venv is not null)
            {
                restartOn.Add(venv);
            }

            var service = builder.Add(new ServiceResource(
                runner, layout.UnitName,
                reloadOn: Set(unit),
                restartOn: restartOn)
            {
                DependsOn = [current, conf, unit, dataDir, logFile, .. odooDependsOnDatabase],
            });
            var health = builder.Add(new HealthCheckResource(
                env.Http, env.Time, "odoo", new Uri($"http://127.0.0.1:{odoo.HttpPort}/web/health"), env.HealthDeadline, env.HealthInterval)
            {
                DependsOn = [service],
            });
            AddTenantDatabases(builder, host, localCluster, [current, conf, health, .. odooDependsOnDatabase], explanation);
        }
        else
        {
            explanation.Add("no Odoo release yet: the baseline converges now; checkout, venv and odoo.service follow the first rollout");
            if (host.Tenants.Any(t => t.State != TenantDesiredState.Absent))
            {
                explanation.Add($"tenants: {host.Tenants.Count(t => t.State != TenantDesiredState.Absent)} database(s) wait for the first release (odoo-bin creates their tables); their nginx sites are in place");
            }
        }

        var nginx = AddWeb(builder, host, facts, packages, explanation);
        AddTenantMoves(builder, host, localCluster, nginx, odooRunning: odoo.Release is not null, explanation);
        AddTenantRemovals(builder, host, localCluster, [packages, .. postgresRunning is null ? Array.Empty<string>() : [postgresRunning]], explanation);
        AddSecurity(builder, host, os, packages, logFile);
        return new CompiledProfile(builder.Resources, explanation, builder.Files) { StageIds = stageIds, Cluster = localCluster };
    }

    /// <summary>
    /// The release tree and its venv alone (what StageReleaseCommand prefetches), built exactly as the
    /// full profile builds them, so a later converge finds them in place.
    /// </summary>
    public static IReadOnlyList<IResource> StageResources(ReleaseRef release, ReleaseArtifactRef? artifact, string sourceUrl, string? wheelhouse, ProfileEnvironment env)
    {
        var layout = env.Layout;
        IResource tree = artifact is not null
            ? new ReleaseArtifactResource(env.Paths, env.Runner, env.Artifacts, layout.ReleasesDir, release, artifact)
            : new ReleaseCheckoutResource(env.Paths, env.Runner, layout.ReleasesDir, release, sourceUrl, env.GitTimeout);
        var venv = new VenvResource(env.Paths, env.Runner, new VenvSpec(layout.ReleaseDir(release))
        {
            Wheelhouse = wheelhouse,
            UseReleaseWheelhouse = artifact is not null,
            Owner = new Ownership(layout.User, layout.Group),
        })
        { DependsOn = [tree.Id] };
        return [tree, venv];
    }

    /// <summary>The local cluster the profile manages on this OS (Debian/Ubuntu's default "main" on 5432).</summary>
    public static PostgresCluster LocalCluster(OsProfile os) =>
        new(os.PostgresMajor.ToString(System.Globalization.CultureInfo.InvariantCulture), "main", 5432);

    /// <summary>The local cluster for these facts (transition recovery needs it without a spec).</summary>
    public static PostgresCluster LocalCluster(ProfileFacts facts) => LocalCluster(OsProfile.Resolve(facts.OsId, facts.OsVersion));

    /// <summary>The release `current` points to, or null (read from the link's text, no resolution).</summary>
    public static ReleaseRef? RunningRelease(HostPaths paths, OdooLayout layout)
    {
        var target = new FileInfo(paths.Resolve(layout.CurrentLink)).LinkTarget;
        return target is null ? null : ReleaseRef.TryParseDirectoryName(Path.GetFileName(target.TrimEnd('/')));
    }

    private static List<string> PackagesFor(DesiredHost host, OsProfile os)
    {
        List<string> packages =
        [
            "git", "python3", "python3-venv", "ca-certificates", "nginx", "ufw", "fail2ban", "python3-systemd", "logrotate", "wkhtmltopdf",
        ];
        packages.Add(host.Postgres.Remote ? "postgresql-client" : os.PostgresPackage);
        if (host.Security.UnattendedUpgrades)
        {
            packages.Add("unattended-upgrades");
        }

        if (host.Web.Tls == TlsMode.Acme)
        {
            packages.Add("certbot");
        }

        if (host.Odoo.Wheelhouse is null)
        {
            packages.AddRange(BuildDependencies);
        }

        return packages;
    }

    /// <summary>
    /// Each tenant's database in the local cluster, owned by the Odoo role, then its modules
    /// installed by odoo-bin without demo data (once: a second converge finds them installed).
    /// </summary>
    private static void AddTenantDatabases(Builder builder, DesiredHost host, PostgresCluster? cluster, IReadOnlyList<string> odooReady, List<string> explanation)
    {
        var served = host.Tenants.Where(t => t.State != TenantDesiredState.Absent).ToList();
        if (served.Count == 0 || cluster is null)
        {
            return;
        }

        var (paths, runner, layout) = (builder.Env.Paths, builder.Env.Runner, builder.Env.Layout);
        var servedNames = served.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var tenant in served)
        {
            IReadOnlyList<string> databaseDeps = odooReady;
            if (tenant.CloneOf is { } source && tenant.MoveIn is null)
            {
                // The source first when this converge also creates it; the clone's database only comes from the copy.
                var clone = builder.Add(new TenantCloneResource(
                    paths, runner, cluster,
                    new TenantCloneSpec(tenant.Name, source, tenant.Neutralize, $"{layout.DataDir}/filestore", TenantCloneSpec.DefaultWorkRoot, layout.Python, layout.OdooBin, layout.ConfFile, layout.User))
                {
                    DependsOn = servedNames.Contains(source) ? [$"odoo-database:{source}", .. odooReady] : odooReady,
                });
                databaseDeps = [clone, .. odooReady];
            }

            // A tenant moving in is restored from its archive instead of being created empty.
            var database = builder.Add(tenant.MoveIn is { } moveIn
                ? new TenantImportResource(
                    paths, runner, cluster, builder.Env.Artifacts,
                    new TenantMoveSpec(tenant.Name, tenant.Database, $"{layout.DataDir}/filestore/{tenant.Database}", moveIn.MoveId, TenantMoveSpec.DefaultWorkRoot),
                    moveIn.Archive, layout.User) { DependsOn = odooReady }
                : new PgDatabaseResource(runner, cluster, new PgDatabaseSpec(tenant.Database, layout.User)) { DependsOn = databaseDeps });
            builder.Add(new OdooDatabaseResource(
                runner, cluster, new OdooDatabaseSpec(tenant.Database, tenant.Modules, layout.Python, layout.OdooBin, layout.ConfFile, layout.User)
                {
                    Lang = tenant.Lang,
                    Country = tenant.Country,
                })
            {
                DependsOn = [database, .. odooReady],
            });
        }

        explanation.Add($"tenants: {served.Count} database(s), each created by the {layout.User} role and initialised by odoo-bin -i ... --without-demo=all; "
            + "Odoo picks a request's database with dbfilter ^%d$ (the primary domain's first label is the tenant's name)");
        var clones = served.Where(t => t.CloneOf is not null).ToList();
        if (clones.Count > 0)
        {
            explanation.Add($"tenants: {clones.Count} clone(s) seeded once from their source's database (pg_dump -Fc | pg_restore, renamed into place complete) and filestore; "
                + $"neutralized (odoo-bin neutralize): {(clones.Any(c => c.Neutralize) ? string.Join(", ", clones.Where(c => c.Neutralize).Select(c => c.Name)) : "none")}");
        }
    }

    /// <summary>
    /// Tenants moving away are exported once their site serves the maintenance page (after nginx);
    /// tenants moving in are verified through nginx once their database is restored and their site is live.
    /// </summary>
    private static void AddTenantMoves(Builder builder, DesiredHost host, PostgresCluster? cluster, string nginx, bool odooRunning, List<string> explanation)
    {
        if (cluster is null)
        {
            return;
        }

        var (paths, layout) = (builder.Env.Paths, builder.Env.Layout);
        foreach (var tenant in host.Tenants)
        {
            if (tenant.MoveOut is { } moveOut)
            {
                builder.Add(new TenantExportResource(
                    paths, builder.Env.Runner, cluster, builder.Env.Time, builder.Env.Artifacts,
                    new TenantMoveSpec(tenant.Name, tenant.Database, $"{layout.DataDir}/filestore/{tenant.Database}", moveOut.MoveId, TenantMoveSpec.DefaultWorkRoot),
                    moveOut.UploadPath) { DependsOn = [nginx] });
                explanation.Add($"tenants: {tenant.Name} moves away (move {moveOut.MoveId}): suspended, archived and uploaded to the controller");
            }

            if (tenant.MoveIn is { } moveIn && odooRunning)
            {
                builder.Add(new TenantVerifyResource(paths, builder.Env.Time, tenant.Name, tenant.PrimaryDomain, tenant.CertificatePath, builder.Env.HealthDeadline, builder.Env.HealthInterval)
                {
                    DependsOn = [nginx, $"tenant-import:{tenant.Name}", $"odoo-database:{tenant.Database}"],
                });
                explanation.Add($"tenants: {tenant.Name} moves in (move {moveIn.MoveId}): restored from its archive, then https://{tenant.PrimaryDomain}/web/login is checked through nginx");
            }
        }
    }

    /// <summary>
    /// Deleted tenants (absent from now on): each is archived, then its site, certificate, database
    /// and filestore go (<see cref="TenantRemovalResource"/>). Archives older than the retention
    /// period are pruned on every converge.
    /// </summary>
    private static void AddTenantRemovals(Builder builder, DesiredHost host, PostgresCluster? cluster, IReadOnlyList<string> deps, List<string> explanation)
    {
        var (paths, runner, layout) = (builder.Env.Paths, builder.Env.Runner, builder.Env.Layout);
        builder.Add(new TenantArchivePruneResource(paths, builder.Env.Time, TenantRemovalSpec.DefaultArchiveRoot, host.TenantArchiveRetention));
        var absent = host.Tenants.Where(t => t.State == TenantDesiredState.Absent).ToList();
        if (absent.Count == 0 || cluster is null)
        {
            return;
        }

        foreach (var tenant in absent)
        {
            var site = new NginxSiteSpec(tenant.PrimaryDomain, tenant.Aliases, host.Odoo.HttpPort, host.Odoo.GeventPort, tenant.CertificatePath, tenant.KeyPath, AcmeWebroot)
            {
                SiteName = tenant.SiteName,
            };
            var spec = new TenantRemovalSpec(
                tenant.Name, tenant.Database,
                [site.EnabledPath, site.AvailablePath, site.AvailablePath + AtomicFile.PreviousSuffix, tenant.CertificatePath, tenant.KeyPath],
                $"{layout.DataDir}/filestore/{tenant.Database}",
                TenantRemovalSpec.DefaultArchiveRoot)
            {
                CloneLeftovers = [$"{layout.DataDir}/filestore/{tenant.Database}{TenantCloneSpec.PartialFilestoreSuffix}", TenantCloneSpec.DumpPathOf(TenantCloneSpec.DefaultWorkRoot, tenant.Name)],
            };
            builder.Add(new TenantRemovalResource(paths, runner, cluster, builder.Env.Time, spec) { DependsOn = deps });
        }

        explanation.Add($"tenants: {absent.Count} deleted; each is archived first (pg_dump -Fc + filestore tar + manifest in {TenantRemovalSpec.DefaultArchiveRoot}, "
            + $"kept {host.TenantArchiveRetention.TotalDays:0} days), then its site, certificate, database and filestore are removed");
    }

    /// <returns>The nginx service's resource id (what depends on every site being live).</returns>
    private static string AddWeb(Builder builder, DesiredHost host, ProfileFacts facts, string packages, List<string> explanation)
    {
        var (paths, runner) = (builder.Env.Paths, builder.Env.Runner);
        var rootOwned = new Ownership("root", "root");
        var domains = host.Web.Domains;
        var singleLabel = domains.Count == 0;
        IReadOnlyList<string> names = singleLabel ? [facts.Hostname] : domains;
        if (singleLabel)
        {
            explanation.Add($"web: no domains in the spec: nginx answers as '{facts.Hostname}' with a self-signed certificate; set domains with `fleet host configure`");
        }

        var tlsDir = builder.Add(new DirectoryResource(paths, runner, TlsDirectory, FileModes.Mode0755, rootOwned));
        var webroot = builder.Add(new DirectoryResource(paths, runner, AcmeWebroot, FileModes.Mode0755, rootOwned));
        var cacheParent = builder.Add(new DirectoryResource(paths, runner, "/var/cache/nginx", FileModes.Mode0755, rootOwned) { DependsOn = [packages] });
        var tenants = host.Tenants.Where(t => t.State != TenantDesiredState.Absent).ToList();
        var tenantLongest = tenants.Count == 0 ? 0 : tenants.Max(t => ((string[])[t.PrimaryDomain, .. t.Aliases]).Max(n => n.Length));
        var site = new NginxSiteSpec(names[0], [.. names.Skip(1)], host.Odoo.HttpPort, host.Odoo.GeventPort, $"{TlsDirectory}/odoo.crt", $"{TlsDirectory}/odoo.key", AcmeWebroot)
        {
            DatabaseManagerOpen = host.Web.DatabaseManager,
            AllowSingleLabelNames = singleLabel,
            LongestOtherName = tenantLongest,
            OtherNameCount = tenants.Sum(t => 1 + t.Aliases.Count),
        };
        var cache = builder.Add(new DirectoryResource(paths, runner, site.CacheDirectory, FileModes.Mode0700, new Ownership("www-data", "www-data"))
        {
            DependsOn = [cacheParent],
        });
        var tlsSpec = new TlsCertificateSpec(names, site.CertificatePath, site.KeyPath) { AllowSingleLabelNames = singleLabel };
        if (host.Web.Tls == TlsMode.Acme)
        {
            tlsSpec = tlsSpec with { Mode = TlsCertificateMode.Acme, AcmeEmail = host.Web.AcmeEmail, AcmeWebroot = AcmeWebroot };
        }

        var tls = builder.Add(new TlsCertificateResource(paths, runner, builder.Env.Time, tlsSpec, rootOwned)
        {
            DependsOn = [tlsDir, webroot, packages],
        });
        var siteFile = builder.File(
            site.AvailablePath, NginxSiteRenderer.Render(site), FileModes.Mode0644, rootOwned,
            new NginxValidator(runner, site.AvailablePath, paths.Resolve("/etc/nginx")), deps: [packages, tls, cache, webroot]);
        var enabled = builder.Add(new SymlinkResource(paths, site.EnabledPath, site.AvailablePath) { DependsOn = [siteFile] });
        var noDefault = builder.Add(new FileAbsentResource(paths, "/etc/nginx/sites-enabled/default") { DependsOn = [packages] });

        // One site and one certificate per tenant: the primary domain proxies to this host's Odoo, aliases redirect to it.
        var reloadOn = Set(siteFile, enabled, noDefault, tls);
        var preamble = NginxSiteRenderer.ValidationPreamble(tenantLongest);
        var maintenancePage = new List<string>();
        if (tenants.Any(t => t.State == TenantDesiredState.Suspended))
        {
            var maintenanceRoot = builder.Add(new DirectoryResource(paths, runner, NginxSiteSpec.DefaultMaintenanceRoot, FileModes.Mode0755, rootOwned));
            maintenancePage.Add(builder.File(
                $"{NginxSiteSpec.DefaultMaintenanceRoot}/{NginxSiteSpec.MaintenancePage}", NginxSiteRenderer.RenderMaintenancePage(), FileModes.Mode0644, rootOwned,
                deps: [maintenanceRoot]));
        }

        foreach (var tenant in tenants)
        {
            var tenantSite = new NginxSiteSpec(tenant.PrimaryDomain, tenant.Aliases, host.Odoo.HttpPort, host.Odoo.GeventPort, tenant.CertificatePath, tenant.KeyPath, AcmeWebroot)
            {
                SiteName = tenant.SiteName,
                OwnsHttpSettings = false,
                DatabaseManagerOpen = host.Web.DatabaseManager,
                Maintenance = tenant.State == TenantDesiredState.Suspended,
            };
            var tenantTlsSpec = new TlsCertificateSpec(tenantSite.AllNames, tenantSite.CertificatePath, tenantSite.KeyPath);
            if (host.Web.Tls == TlsMode.Acme)
            {
                tenantTlsSpec = tenantTlsSpec with { Mode = TlsCertificateMode.Acme, AcmeEmail = host.Web.AcmeEmail, AcmeWebroot = AcmeWebroot };
            }

            var tenantTls = builder.Add(new TlsCertificateResource(paths, runner, builder.Env.Time, tenantTlsSpec, rootOwned)
            {
                DependsOn = [tlsDir, webroot, packages],
            });
            var tenantFile = builder.File(
                tenantSite.AvailablePath, NginxSiteRenderer.Render(tenantSite), FileModes.Mode0644, rootOwned,
                new NginxValidator(runner, tenantSite.AvailablePath, paths.Resolve("/etc/nginx"), preamble), deps: [packages, tenantTls, webroot, .. maintenancePage]);
            var tenantEnabled = builder.Add(new SymlinkResource(paths, tenantSite.EnabledPath, tenantSite.AvailablePath) { DependsOn = [tenantFile] });
            reloadOn.UnionWith([tenantTls, tenantFile, tenantEnabled]);
        }

        if (tenants.Any(t => t.State == TenantDesiredState.Suspended))
        {
            explanation.Add($"web: {tenants.Count(t => t.State == TenantDesiredState.Suspended)} suspended tenant site(s) answer 503 with {NginxSiteSpec.DefaultMaintenanceRoot}/{NginxSiteSpec.MaintenancePage} (Retry-After {NginxSiteSpec.MaintenanceRetryAfterSeconds} s); their databases are kept");
        }

        if (tenants.Count > 0)
        {
            explanation.Add($"web: {tenants.Count} tenant site(s), each with its own certificate ({(host.Web.Tls == TlsMode.Acme ? "Let's Encrypt" : "self-signed")}); aliases redirect to the primary domain");
        }

        var nginx = builder.Add(new ServiceResource(runner, "nginx.service", Empty, Empty)
        {
            DependsOn = [.. reloadOn.Where(id => id != siteFile)],
            ReloadServiceOn = reloadOn,
            ReloadWatch = new NginxReloadWatch(paths, builder.Env.Time),
        });
        explanation.Add(host.Web.DatabaseManager
            ? "web: /web/database/* is OPEN through nginx (explicit option); list_db stays False"
            : "web: /web/database/* is refused by nginx (403) and list_db = False (SEED-ERRATA #14)");
        return nginx;
    }

    private static void AddSecurity(Builder builder, DesiredHost host, OsProfile os, string packages, string logFile)
    {
        var (paths, runner) = (builder.Env.Paths, builder.Env.Runner);
        var rootOwned = new Ownership("root", "root");
        builder.Add(new UfwResource(runner, new UfwSpec([new UfwPort(22, "tcp"), new UfwPort(80, "tcp"), new UfwPort(443, "tcp")])) { DependsOn = [packages] });

        var filter = builder.File(
            Fail2banRenderer.FilterPath, Fail2banRenderer.RenderFilter(), FileModes.Mode0644, rootOwned,
            new Fail2banFilterValidator(runner), deps: [packages]);
        var jail = builder.File(
            Fail2banRenderer.JailPath,
            Fail2banRenderer.RenderJail(new Fail2banSpec(builder.Env.Layout.LogFile)
            {
                MaxRetry = host.Security.LoginMaxRetry,
                FindTime = host.Security.LoginFindTime,
                BanTime = host.Security.LoginBanTime,
            }),
            FileModes.Mode0644, rootOwned,
            new Fail2banConfigValidator(runner, Fail2banRenderer.JailRelativePath, paths.Resolve(Fail2banRenderer.ConfigDirectory)),
            deps: [filter, logFile]);
        builder.Add(new ServiceResource(runner, "fail2ban.service", Empty, Empty)
        {
            DependsOn = [filter, jail],
            ReloadServiceOn = Set(filter, jail),
        });

        builder.File(
            LogrotateRenderer.FilePath, LogrotateRenderer.Render(LogrotateSpec.For(builder.Env.Layout)), FileModes.Mode0644, rootOwned,
            new LogrotateValidator(runner), deps: [packages], previousSuffix: AtomicFile.IgnoredPreviousSuffix);

        if (host.Security.UnattendedUpgrades)
        {
            var aptConf = paths.Resolve("/etc/apt/apt.conf.d");
            builder.File(
                UnattendedUpgradesRenderer.PeriodicPath, UnattendedUpgradesRenderer.RenderPeriodic(), FileModes.Mode0644, rootOwned,
                new AptConfigValidator(runner, Path.GetFileName(UnattendedUpgradesRenderer.PeriodicPath), aptConf),
                deps: [packages], previousSuffix: AtomicFile.IgnoredPreviousSuffix);
            builder.File(
                UnattendedUpgradesRenderer.PolicyPath, UnattendedUpgradesRenderer.RenderPolicy(os.Id), FileModes.Mode0644, rootOwned,
                new AptConfigValidator(runner, Path.GetFileName(UnattendedUpgradesRenderer.PolicyPath), aptConf),
                deps: [packages], previousSuffix: AtomicFile.IgnoredPreviousSuffix);
        }
    }

    private static readonly IReadOnlySet<string> Empty = new HashSet<string>(StringComparer.Ordinal);

    private static HashSet<string> Set(params string[] ids) => new(ids, StringComparer.Ordinal);

    /// <summary>Collects resources (returning their ids for dependency lists) and the files `render` shows.</summary>
    private sealed class Builder(ProfileEnvironment env)
    {
        public ProfileEnvironment Env { get; } = env;

        public List<IResource> Resources { get; } = [];

        public List<ManagedFile> Files { get; } = [];

        public string Add(IResource resource)
        {
            Resources.Add(resource);
            return resource.Id;
        }

        public void Record(string path, string content, UnixFileMode mode) => Files.Add(new ManagedFile(path, content, mode));

        public string File(
            string path, string content, UnixFileMode mode, Ownership owner, IFileValidator? validator = null,
            IReadOnlyList<string>? deps = null, Func<string, string>? redact = null, string? previousSuffix = null)
        {
            var resource = new FileResource(Env.Paths, Env.Runner, path, Encoding.UTF8.GetBytes(content), mode, owner, validator)
            {
                DependsOn = deps ?? [],
                Redact = redact ?? (static text => text),
                PreviousSuffix = previousSuffix ?? AtomicFile.PreviousSuffix,
            };
            Record(path, redact is null ? content : redact(content), mode);
            return Add(resource);
        }
    }
}
