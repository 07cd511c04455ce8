using System.Text.RegularExpressions;

namespace OdooFleet.Agent.Profiles;

/// <summary>
/// Validates spec values before any of them reaches a path or a command line. The controller
/// validates too; the agent does not trust the wire. Messages name the field, the rule and the fix.
/// </summary>
internal static partial class SpecValidator
{
    private static readonly string[] UrlSchemes = ["git://", "https://", "http://", "file://", "ssh://"];

    public static bool IsSeries(string value) => SeriesPattern().IsMatch(value);

    public static bool IsCommit(string value) => CommitPattern().IsMatch(value);

    public static string? CheckSeries(string value) => IsSeries(value)
        ? null
        : $"odoo.release.series: '{Printable(value)}' must match ^\\d{{1,3}}\\.\\d$ (e.g. \"18.0\"); fix the release in the rollout";

    public static string? CheckCommit(string value) => IsCommit(value)
        ? null
        : $"odoo.release.commit: '{Printable(value)}' must be a full 40-character lowercase hex commit id (^[0-9a-f]{{40}}$); resolve the branch to a commit on the controller";

    public static string? CheckSourceUrl(string value)
    {
        const string Rule = "must be a git URL starting with git://, https://, http://, file:// or ssh://, or an absolute path";
        if (value.Length == 0)
        {
            return $"odoo.source_url: is empty but {Rule}; set the fleet's Odoo source";
        }

        // A leading '-' would be read by git as an option; control characters have no place in a URL.
        if (value.StartsWith('-') || !Engine.Grammar.IsSingleLine(value) || value.Any(char.IsWhiteSpace))
        {
            return $"odoo.source_url: '{Printable(value)}' contains a leading '-', whitespace or control characters; {Rule}";
        }

        if (value.StartsWith('/'))
        {
            return null;
        }

        var scheme = UrlSchemes.FirstOrDefault(s => value.StartsWith(s, StringComparison.OrdinalIgnoreCase));
        if (scheme is null)
        {
            return $"odoo.source_url: '{Printable(value)}' {Rule}; fix the fleet's Odoo source";
        }

        if (scheme == "file://")
        {
            return value.Length > scheme.Length && value[scheme.Length] == '/'
                ? null
                : $"odoo.source_url: '{Printable(value)}' must be file:///absolute/path; fix the fleet's Odoo source";
        }

        return Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Host.Length > 0
            ? null
            : $"odoo.source_url: '{Printable(value)}' has no valid host; {Rule}";
    }

    public static string? CheckPort(string field, int value) => value is >= 1 and <= 65535
        ? null
        : $"{field}: {value} is not a TCP port (1-65535); fix the host's port settings";

    /// <summary>Problems of a release artifact reference (its path reaches a URL and a file name, its hash is compared).</summary>
    public static IReadOnlyList<string> CheckArtifact(Engine.ReleaseArtifactRef artifact)
    {
        var errors = new List<string>();
        if (!ArtifactPathPattern().IsMatch(artifact.Path) || artifact.Path.Contains("..", StringComparison.Ordinal))
        {
            errors.Add($"odoo.artifact.path: '{Printable(artifact.Path)}' must be a URL path like /releases/18.0-<commit>.tar.gz (letters, digits, '.', '_', '-', '/'; no '..'); fix the controller's release store");
        }

        if (!Sha256Pattern().IsMatch(artifact.Sha256))
        {
            errors.Add($"odoo.artifact.sha256: '{Printable(artifact.Sha256)}' must be 64 lowercase hex digits (the SHA-256 of the tarball)");
        }

        if (artifact.SizeBytes <= 0)
        {
            errors.Add($"odoo.artifact.size_bytes: {artifact.SizeBytes} must be the tarball's size in bytes (positive)");
        }

        return errors;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^/[A-Za-z0-9._/-]{1,300}\z")]
    private static partial System.Text.RegularExpressions.Regex ArtifactPathPattern();

    [System.Text.RegularExpressions.GeneratedRegex(@"^[0-9a-f]{64}\z")]
    private static partial System.Text.RegularExpressions.Regex Sha256Pattern();

    /// <summary>All problems of an Odoo spec, empty when it is valid.</summary>
    public static IReadOnlyList<string> Validate(Engine.OdooDesired odoo)
    {
        var errors = new List<string>();
        void Add(string? error)
        {
            if (error is not null)
            {
                errors.Add(error);
            }
        }

        if (odoo.Release is { } release)
        {
            Add(CheckSeries(release.Series));
            Add(CheckCommit(release.Commit));
            if (odoo.Artifact is { } artifact)
            {
                errors.AddRange(CheckArtifact(artifact));
            }
            else
            {
                Add(CheckSourceUrl(odoo.SourceUrl));
            }
        }
        else if (odoo.Artifact is not null)
        {
            errors.Add("odoo.artifact: set without odoo.release; an artifact is the tarball of a release, send both or neither");
        }

        Add(CheckPort("odoo.http_port", odoo.HttpPort));
        Add(CheckPort("odoo.gevent_port", odoo.GeventPort));
        if (odoo.Wheelhouse is { } wheelhouse && !Engine.Grammar.IsSafeAbsolutePath(wheelhouse))
        {
            errors.Add($"odoo.wheelhouse: '{Printable(wheelhouse)}' must be an absolute path without spaces, quotes or '..'; fix the host's odoo settings");
        }

        if (odoo.AdminPasswdHash is { } hash && Profiles.AdminPassword.CheckHash("odoo.admin_passwd_hash", hash) is { } hashError)
        {
            errors.Add(hashError);
        }

        if (odoo.HttpPort == odoo.GeventPort)
        {
            errors.Add($"odoo.gevent_port: {odoo.GeventPort} equals odoo.http_port; the two must differ (defaults 8069 and 8072)");
        }

        return errors;
    }

    /// <summary>Problems of the PostgreSQL, web and security parts of a spec, empty when they are valid.</summary>
    public static IReadOnlyList<string> Validate(Engine.PostgresDesired postgres, Engine.WebDesired web, Engine.SecurityDesired security)
    {
        var errors = new List<string>();
        if (postgres.Remote)
        {
            var host = postgres.Host ?? "";
            if (!(Engine.Grammar.IsDomain(host) || Engine.Grammar.IsHostLabel(host) || System.Net.IPAddress.TryParse(host, out _)))
            {
                errors.Add($"postgres.host: '{Printable(host)}' must be a DNS name or an IP address for a remote PostgreSQL; fix the host's postgres settings");
            }

            if (CheckPort("postgres.port", postgres.Port) is { } port)
            {
                errors.Add(port);
            }

            if (!Engine.Grammar.IsSqlIdentifier(postgres.User))
            {
                errors.Add($"postgres.user: '{Printable(postgres.User)}' must be a lowercase identifier (^[a-z_][a-z0-9_]{{0,62}}$); fix the host's postgres settings");
            }

            if (postgres.Settings.Count > 0)
            {
                errors.Add("postgres.settings: only apply to a local PostgreSQL; tune the remote server where it runs, or remove them");
            }
        }

        foreach (var name in postgres.Settings.Keys.Where(k => !Engine.Grammar.IsSqlIdentifier(k)))
        {
            errors.Add($"postgres.settings: '{Printable(name)}' is not a PostgreSQL setting name (lowercase letters, digits, _); fix the override");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var domain in web.Domains)
        {
            if (!Engine.Grammar.IsDomain(domain))
            {
                errors.Add($"web.domains: '{Printable(domain)}' is not a DNS name (lowercase labels of letters, digits and inner hyphens, at least one dot); fix the host's domains");
            }
            else if (!seen.Add(domain))
            {
                errors.Add($"web.domains: '{domain}' is listed twice; list each name once");
            }
        }

        if (web.Tls == Engine.TlsMode.Acme)
        {
            if (web.Domains.Count == 0)
            {
                errors.Add("web.tls: acme needs public domains (web.domains is empty); add the host's domains or use self-signed");
            }

            if (web.AcmeEmail is not { } email || !Engine.Grammar.IsEmailAddress(email))
            {
                errors.Add($"web.acme_email: '{Printable(web.AcmeEmail ?? "")}' is not an e-mail address; Let's Encrypt needs one for expiry notices");
            }
        }

        if (security.LoginMaxRetry is < 1 or > 100)
        {
            errors.Add($"security.login_max_retry: {security.LoginMaxRetry} is outside 1-100; fix the host's security settings");
        }

        if (security.LoginFindTime < TimeSpan.FromMinutes(1) || security.LoginFindTime > TimeSpan.FromDays(1))
        {
            errors.Add($"security.login_find_time_seconds: {security.LoginFindTime.TotalSeconds:0} is outside 60-86400; fix the host's security settings");
        }

        if (security.LoginBanTime < TimeSpan.FromMinutes(1) || security.LoginBanTime > TimeSpan.FromDays(30))
        {
            errors.Add($"security.login_ban_seconds: {security.LoginBanTime.TotalSeconds:0} is outside 60-2592000; fix the host's security settings");
        }

        return errors;
    }

    /// <summary>The most tenants one host takes (the controller's placement keeps far below).</summary>
    public const int MaxTenants = 2000;

    /// <summary>
    /// Problems of the tenants of a spec, empty when they are valid: names, databases and domains
    /// (unique across tenants and the host's own site), and the database each primary domain
    /// reaches through dbfilter ^%d$.
    /// </summary>
    public static IReadOnlyList<string> Validate(IReadOnlyList<Engine.TenantDesired> tenants, Engine.OdooDesired odoo, Engine.PostgresDesired postgres, Engine.WebDesired web)
    {
        var errors = new List<string>();
        if (tenants.Count == 0)
        {
            return errors;
        }

        if (tenants.Count > MaxTenants)
        {
            errors.Add($"tenants: {tenants.Count} on one host, at most {MaxTenants}; place them on more hosts");
        }

        if (postgres.Remote)
        {
            errors.Add("tenants: this agent creates tenant databases in the host's local PostgreSQL; a host with a remote PostgreSQL cannot take tenants yet");
        }

        if (odoo.DbFilter != "^%d$")
        {
            errors.Add($"odoo.dbfilter: '{Printable(odoo.DbFilter)}' with tenants; tenants need ^%d$ (each primary domain's first label is its database)");
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        var domains = new HashSet<string>(web.Domains, StringComparer.Ordinal);
        foreach (var tenant in tenants.Take(MaxTenants + 1))
        {
            var field = $"tenants.{Printable(tenant.Name)}";
            if (!TenantNamePattern().IsMatch(tenant.Name))
            {
                errors.Add($"{field}: the name must be 2-30 lowercase letters, digits and inner hyphens, starting with a letter, without '--'; fix the tenant");
                continue;
            }

            if (!names.Add(tenant.Name))
            {
                errors.Add($"{field}: listed twice; list each tenant once");
            }

            if (tenant.Database != tenant.Name)
            {
                errors.Add($"{field}.database: '{Printable(tenant.Database)}' must be the tenant's name (dbfilter ^%d$ finds it from the domain)");
            }

            foreach (var domain in (string[])[tenant.PrimaryDomain, .. tenant.Aliases])
            {
                if (!Engine.Grammar.IsDomain(domain))
                {
                    errors.Add($"{field}.domains: '{Printable(domain)}' is not a DNS name (lowercase labels of letters, digits and inner hyphens, at least one dot); fix the tenant");
                }
                else if (!domains.Add(domain))
                {
                    errors.Add($"{field}.domains: '{domain}' is served by another tenant or by the host's own site; a domain serves one site only");
                }
            }

            if (tenant.CloneOf is { } source && (!TenantNamePattern().IsMatch(source) || source == tenant.Name))
            {
                errors.Add($"{field}.clone_of: '{Printable(source)}' must be another tenant's name (2-30 lowercase letters, digits and inner hyphens); fix the clone");
            }

            if (tenant.Neutralize && tenant.CloneOf is null)
            {
                errors.Add($"{field}.neutralize: set without clone_of; only a copy of another tenant is neutralized");
            }

            errors.AddRange(CheckMove(field, tenant));
            if (Engine.Grammar.IsDomain(tenant.PrimaryDomain) && DbFilterLabel(tenant.PrimaryDomain) != tenant.Database)
            {
                errors.Add($"{field}.primary_domain: '{tenant.PrimaryDomain}' reaches database '{DbFilterLabel(tenant.PrimaryDomain)}' through dbfilter ^%d$, not '{tenant.Database}'; "
                    + $"the primary domain must start with the tenant name (e.g. {tenant.Name}.example.com)");
            }
        }

        return errors;
    }

    /// <summary>The path a move's archive has on the controller: nothing else is uploaded or fetched for a move.</summary>
    public static string MoveArchivePath(string moveId) => $"/tenant-moves/{moveId}/archive";

    private static IEnumerable<string> CheckMove(string field, Engine.TenantDesired tenant)
    {
        if (tenant.MoveOut is { } moveOut)
        {
            if (!MoveIdPattern().IsMatch(moveOut.MoveId) || moveOut.UploadPath != MoveArchivePath(moveOut.MoveId))
            {
                yield return $"{field}.move_out: move id '{Printable(moveOut.MoveId)}' must look like m-3kq9t2mzpa and the upload path be /tenant-moves/<move id>/archive; fix the controller";
            }

            if (tenant.State != Engine.TenantDesiredState.Suspended)
            {
                yield return $"{field}.move_out: a tenant is exported only while suspended (nothing may write to it meanwhile); fix the controller";
            }
        }

        if (tenant.MoveIn is { } moveIn)
        {
            if (!MoveIdPattern().IsMatch(moveIn.MoveId) || moveIn.Archive.Path != MoveArchivePath(moveIn.MoveId))
            {
                yield return $"{field}.move_in: move id '{Printable(moveIn.MoveId)}' must look like m-3kq9t2mzpa and the archive path be /tenant-moves/<move id>/archive; fix the controller";
            }

            if (!Sha256Pattern().IsMatch(moveIn.Archive.Sha256) || moveIn.Archive.SizeBytes <= 0)
            {
                yield return $"{field}.move_in.archive: sha256 must be 64 lowercase hex digits and size positive; fix the controller";
            }

            if (tenant.State != Engine.TenantDesiredState.Active || tenant.MoveOut is not null)
            {
                yield return $"{field}.move_in: a tenant moving in is active and not moving out; fix the controller";
            }
        }
    }

    [GeneratedRegex(@"^m-[a-z0-9]{10}\z")]
    private static partial Regex MoveIdPattern();

    /// <summary>Odoo's %d: the host name's first label, or its second when the first is "www" (odoo/http.py db_filter).</summary>
    public static string DbFilterLabel(string domain)
    {
        var labels = domain.Split('.');
        return labels[0] == "www" && labels.Length > 1 ? labels[1] : labels[0];
    }

    private static string Printable(string value)
    {
        var cleaned = new string(value.Select(c => Engine.Grammar.IsLineBreakOrControl(c) ? '?' : c).Take(100).ToArray());
        return value.Length > 100 ? cleaned + "…" : cleaned;
    }

    // [0-9], not \d: in .NET \d is any Unicode decimal digit ("١٨.٠" would become a release directory name).
    [GeneratedRegex(@"^[0-9]{1,3}\.[0-9]\z")]
    private static partial Regex SeriesPattern();

    [GeneratedRegex(@"^[0-9a-f]{40}\z")]
    private static partial Regex CommitPattern();

    // The controller's tenant name grammar: a DNS label, starting with a letter, 2-30, no "--".
    [GeneratedRegex(@"^[a-z](?!.*--)[a-z0-9-]{0,28}[a-z0-9]\z")]
    private static partial Regex TenantNamePattern();
}

internal sealed class SpecValidationException(IReadOnlyList<string> errors)
    : Exception("invalid host spec: " + string.Join("; ", errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
