namespace OdooFleet.Agent.Engine;

/// <summary>What a resource found on the host. Each kind derives its own record.</summary>
internal abstract record Observation;

/// <summary>What Apply would do, in words an operator understands; kinds may derive to carry a plan.</summary>
internal record Change(string Description)
{
    /// <summary>Optional multi-line detail for check/diff output (e.g. a unified diff of a file, secrets redacted).</summary>
    public string? Detail { get; init; }
}

internal enum ResourceStatus
{
    Unchanged,
    Changed,
    Failed,
    Skipped,
}

internal sealed record ResourceResult(string Id, string Kind, ResourceStatus Status, string Message, TimeSpan Duration)
{
    /// <summary>The change's detail (a diff for files), when there was one.</summary>
    public string? Detail { get; init; }
}

internal enum ConvergeMode
{
    /// <summary>Observe, diff and apply.</summary>
    Apply,

    /// <summary>Observe and diff only: reports what would change and touches nothing.</summary>
    Check,
}

/// <summary>A part of the graph to run: drift checks and corrections cover a few resources, not the host.</summary>
internal sealed record ConvergeScope(IReadOnlySet<string> Ids)
{
    /// <summary>
    /// Diff each resource as if none of its dependencies changed (check mode): what drifted by
    /// itself, not what would only react to a drifted neighbour (a service reload after its config).
    /// </summary>
    public bool Isolated { get; init; }
}

internal sealed record ConvergeOutcome(IReadOnlyList<ResourceResult> Results)
{
    public bool Success => Results.All(r => r.Status is ResourceStatus.Unchanged or ResourceStatus.Changed);

    public bool IsChanged(string id) => Results.Any(r => r.Id == id && r.Status == ResourceStatus.Changed);

    /// <summary>The first failure, for the report's one-line error.</summary>
    public string? Error =>
        Results.FirstOrDefault(r => r.Status == ResourceStatus.Failed) is { } failed ? $"{failed.Id}: {failed.Message}" : null;
}

/// <summary>An Odoo release: series and pinned commit (validated by the profile).</summary>
internal sealed record ReleaseRef(string Series, string Commit)
{
    /// <summary>Directory name under /opt/odoo/releases.</summary>
    public string DirectoryName => $"{Series}-{Commit}";

    public override string ToString() => DirectoryName;

    /// <summary>Parses "&lt;series&gt;-&lt;commit&gt;" (a release directory name); null if it is not one.</summary>
    public static ReleaseRef? TryParseDirectoryName(string name)
    {
        var dash = name.LastIndexOf('-');
        if (dash <= 0)
        {
            return null;
        }

        var release = new ReleaseRef(name[..dash], name[(dash + 1)..]);
        return Profiles.SpecValidator.IsSeries(release.Series) && Profiles.SpecValidator.IsCommit(release.Commit) ? release : null;
    }
}

/// <summary>The desired state of this host, as the agent's domain sees it (mapped from HostSpec, defaults filled in).</summary>
internal sealed record DesiredHost(string HostId, long Generation, OdooDesired Odoo)
{
    public PostgresDesired Postgres { get; init; } = PostgresDesired.Local;

    public WebDesired Web { get; init; } = WebDesired.Default;

    public SecurityDesired Security { get; init; } = SecurityDesired.Default;

    /// <summary>The Odoo databases this host serves, each with its own nginx site and certificate.</summary>
    public IReadOnlyList<TenantDesired> Tenants { get; init; } = [];

    /// <summary>How long the final archive of a deleted tenant is kept before a converge prunes it.</summary>
    public TimeSpan TenantArchiveRetention { get; init; } = TimeSpan.FromDays(30);
}

/// <summary>What the host makes of a tenant: serve it, serve a maintenance page (data kept), or archive and remove it.</summary>
internal enum TenantDesiredState
{
    Active,
    Suspended,
    Absent,
}

/// <summary>
/// One tenant: a database named after it (Odoo picks it with dbfilter ^%d$ from the primary domain's
/// first label), its modules, and an nginx site where the primary domain serves and aliases redirect.
/// </summary>
internal sealed record TenantDesired(string Name, string Database, string PrimaryDomain, IReadOnlyList<string> Aliases, IReadOnlyList<string> Modules)
{
    /// <summary>The nginx site (file, upstream and map names): a lowercase identifier, one per tenant ('-' as '_'; names have no '_').</summary>
    public string SiteName => "t_" + Name.Replace('-', '_');

    public string CertificatePath => $"/etc/ssl/odoofleet/tenant-{Name}.crt";

    public string KeyPath => $"/etc/ssl/odoofleet/tenant-{Name}.key";

    public TenantDesiredState State { get; init; } = TenantDesiredState.Active;

    /// <summary>Odoo language loaded when the database is created (e.g. fr_FR); null = en_US only.</summary>
    public string? Lang { get; init; }

    /// <summary>ISO 3166-1 alpha-2 code of the main company's country, set when the database is created; null = none.</summary>
    public string? Country { get; init; }
    /// <summary>The tenant (on this host) whose database and filestore the new database starts as; null = a new database.</summary>
    public string? CloneOf { get; init; }

    /// <summary>With <see cref="CloneOf"/>: the copy is neutralized (odoo-bin neutralize) before it serves.</summary>
    public bool Neutralize { get; init; }
    /// <summary>Moving away: archive it once for this move and upload the archive to the controller (it is served suspended meanwhile).</summary>
    public TenantMoveOut? MoveOut { get; init; }

    /// <summary>Moving in: restore it from this archive instead of creating it, then verify its site.</summary>
    public TenantMoveIn? MoveIn { get; init; }
}

internal sealed record TenantMoveOut(string MoveId, string UploadPath);

internal sealed record TenantMoveIn(string MoveId, ReleaseArtifactRef Archive);

internal sealed record OdooDesired(ReleaseRef? Release, string SourceUrl, int HttpPort, int GeventPort)
{
    /// <summary>null = computed from cores and RAM.</summary>
    public int? Workers { get; init; }

    /// <summary>null = computed.</summary>
    public int? MaxCronThreads { get; init; }

    /// <summary>Extra odoo.conf options an operator set (validated against Odoo 18's options).</summary>
    public IReadOnlyDictionary<string, string> Options { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    public string LogLevel { get; init; } = "info";

    public string DbFilter { get; init; } = "^%d$";

    /// <summary>A pbkdf2-sha512 hash from the controller; null = the agent keeps its own.</summary>
    public string? AdminPasswdHash { get; init; }

    public string? Wheelhouse { get; init; }

    /// <summary>When set, the release comes from the controller's artifact instead of a clone of <see cref="SourceUrl"/>.</summary>
    public ReleaseArtifactRef? Artifact { get; init; }

    public ReleaseGateSpec Gate { get; init; } = ReleaseGateSpec.Default;

    /// <summary>
    /// The release is the one running, kept because this generation's transition to the desired one
    /// was reverted: converge around it (no fetch, no venv build) until the controller sends a new generation.
    /// </summary>
    public bool ReleaseKept { get; init; }
}

/// <summary>A release tarball on the controller's agent endpoint, verified by size and sha256.</summary>
internal sealed record ReleaseArtifactRef(string Path, string Sha256, long SizeBytes);

/// <summary>How a release change is applied (ReleaseGate on the wire, defaults filled in).</summary>
internal sealed record ReleaseGateSpec(string? RolloutId, bool SkipBackup, TimeSpan HealthTimeout, TimeSpan MinHealthy)
{
    public static readonly ReleaseGateSpec Default = new(null, false, TimeSpan.FromSeconds(300), TimeSpan.FromSeconds(10));
}

/// <summary>Where Odoo's database lives: a local cluster the agent manages (peer auth) or a remote server.</summary>
internal sealed record PostgresDesired(bool Remote, string? Host, int Port, string User, string? Password, string SslMode)
{
    public static readonly PostgresDesired Local = new(false, null, 5432, "odoo", null, "prefer");

    /// <summary>Overrides of the computed settings (local only).</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);
}

internal enum TlsMode
{
    SelfSigned,
    Acme,
}

internal sealed record WebDesired(IReadOnlyList<string> Domains, TlsMode Tls, string? AcmeEmail, bool DatabaseManager)
{
    public static readonly WebDesired Default = new([], TlsMode.SelfSigned, null, false);
}

internal sealed record SecurityDesired(int LoginMaxRetry, TimeSpan LoginFindTime, TimeSpan LoginBanTime, bool UnattendedUpgrades)
{
    public static readonly SecurityDesired Default = new(5, TimeSpan.FromMinutes(10), TimeSpan.FromHours(1), true);
}
