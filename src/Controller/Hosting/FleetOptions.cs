using System.ComponentModel.DataAnnotations;
using OdooFleet.Controller.Domain;

namespace OdooFleet.Controller.Hosting;

/// <summary>Settings of section "Fleet". Every value is validated at start-up.</summary>
internal sealed class FleetOptions : IValidatableObject
{
    public const string Section = "Fleet";

    /// <summary>Git remote the Odoo releases come from (the real Odoo repository or a mirror).</summary>
    [Required]
    public string SourceUrl { get; set; } = "https://github.com/odoo/odoo.git";

    /// <summary>Where the controller keeps its caches: release artifacts and the source repositories they are built from.</summary>
    public string DataDirectory { get; set; } = "/var/lib/odoofleet";

    /// <summary>Controller endpoints handed to agents at enrollment, e.g. https://10.0.0.1:7001 (agents speak TLS only).</summary>
    public List<string> AgentEndpoints { get; set; } = [];

    [Range(1, 3600)]
    public int HeartbeatIntervalSeconds { get; set; } = 5;

    /// <summary>A host whose last heartbeat is older than this is offline.</summary>
    [Range(2, 86400)]
    public int OfflineAfterSeconds { get; set; } = 20;

    /// <summary>How long an unanswered Converge waits before it is sent again.</summary>
    [Range(1, 3600)]
    public int ConvergeResendSeconds { get; set; } = 30;

    /// <summary>A host that has not reported its converge within this time fails its rollout step.</summary>
    [Range(10, 86400)]
    public int ConvergeTimeoutSeconds { get; set; } = 900;

    [Range(60, 30 * 86400)]
    public int DefaultTokenTtlSeconds { get; set; } = 3600;

    /// <summary>The bootstrap admin credential (a bearer token, role admin) that makes the first API tokens. Every FleetService call needs a token either way.</summary>
    public string? ApiToken { get; set; }

    /// <summary>How long hosts keep the final archive (database dump, filestore, manifest) of a deleted tenant before pruning it.</summary>
    [Range(1, 3650)]
    public int TenantArchiveRetentionDays { get; set; } = 30;

    /// <summary>The largest tenant archive (database dump + filestore) a move carries through the controller's database.</summary>
    [Range(1L << 20, 1L << 40)]
    public long TenantMoveMaxArchiveBytes { get; set; } = 20L << 30;

    public int OdooHttpPort { get; set; } = 8069;

    public int OdooGeventPort { get; set; } = 8072;

    /// <summary>Contact e-mail for Let's Encrypt on hosts whose profile names none (needed for --tls acme).</summary>
    public string? AcmeEmail { get; set; }

    /// <summary>
    /// A directory on every host holding the Python wheels of Odoo's requirements: venvs install
    /// offline from it and hosts need no compilers. Unset = hosts build requirements from source
    /// (the profile installs the build dependencies).
    /// </summary>
    public string? Wheelhouse { get; set; }

    /// <summary>Odoo log level of hosts whose profile sets none.</summary>
    public string LogLevel { get; set; } = "info";

    /// <summary>fail2ban: failed Odoo logins before a ban, on hosts whose profile sets none.</summary>
    [Range(1, ProfileRules.MaxLoginRetry)]
    public int LoginMaxRetry { get; set; } = 5;

    [Range(ProfileRules.MinWindowSeconds, ProfileRules.MaxFindTimeSeconds)]
    public int LoginFindTimeSeconds { get; set; } = 600;

    [Range(ProfileRules.MinWindowSeconds, ProfileRules.MaxBanSeconds)]
    public int LoginBanSeconds { get; set; } = 3600;

    public ProfileDefaults ProfileDefaults =>
        new(string.IsNullOrEmpty(AcmeEmail) ? null : AcmeEmail, LogLevel, LoginMaxRetry, LoginFindTimeSeconds, LoginBanSeconds);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!string.IsNullOrEmpty(AcmeEmail) && !ProfileRules.IsEmail(AcmeEmail))
        {
            yield return new ValidationResult(
                $"Fleet:AcmeEmail: '{ProfileRules.Printable(AcmeEmail)}' is not an e-mail address; set e.g. ops@example.com or leave it unset",
                [nameof(AcmeEmail)]);
        }

        if (!string.IsNullOrEmpty(Wheelhouse) && !Domain.Validation.IsAbsolutePath(Wheelhouse))
        {
            yield return new ValidationResult(
                $"Fleet:Wheelhouse: '{ProfileRules.Printable(Wheelhouse)}' must be an absolute path without spaces, quotes or '..'; set e.g. /srv/wheelhouse or leave it unset",
                [nameof(Wheelhouse)]);
        }

        if (!Domain.Validation.IsAbsolutePath(DataDirectory))
        {
            yield return new ValidationResult(
                $"Fleet:DataDirectory: '{ProfileRules.Printable(DataDirectory)}' must be an absolute path without spaces, quotes or '..'; set e.g. /var/lib/odoofleet",
                [nameof(DataDirectory)]);
        }

        if (!ProfileRules.LogLevels.Contains(LogLevel))
        {
            yield return new ValidationResult(
                $"Fleet:LogLevel: '{ProfileRules.Printable(LogLevel)}' is not an Odoo 18 log level; use one of {string.Join(", ", ProfileRules.LogLevels)}",
                [nameof(LogLevel)]);
        }
    }
}

/// <summary>Settings of section "Broker": the RabbitMQ the controller and agents use.</summary>
internal sealed class BrokerOptions : IValidatableObject
{
    public const string Section = "Broker";

    [Required]
    public string Host { get; set; } = "127.0.0.1";

    [Range(1, 65535)]
    public int Port { get; set; } = 5672;

    [Required]
    public string VirtualHost { get; set; } = "/";

    [Required]
    public string Username { get; set; } = "";

    [Required]
    public string Password { get; set; } = "";

    /// <summary>Broker address as agents reach it (defaults to Host).</summary>
    public string? AgentHost { get; set; }

    /// <summary>
    /// RabbitMQ's management HTTP API (plugin rabbitmq_management), where the controller creates and
    /// deletes each host's own broker user; defaults to http://Host:15672/. Username needs the
    /// administrator tag there.
    /// </summary>
    public string? ManagementUrl { get; set; }

    /// <summary>How long after issue an agent still accepts a command (its expires_at).</summary>
    [Range(typeof(TimeSpan), "00:00:30", "1.00:00:00")]
    public TimeSpan CommandLifetime { get; set; } = TimeSpan.FromMinutes(10);

    public Uri ManagementUri =>
        string.IsNullOrEmpty(ManagementUrl) ? new UriBuilder(Uri.UriSchemeHttp, Host, 15672).Uri : new Uri(ManagementUrl, UriKind.Absolute);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!string.IsNullOrEmpty(ManagementUrl)
            && (!Uri.TryCreate(ManagementUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
        {
            yield return new ValidationResult(
                $"Broker:ManagementUrl: '{ProfileRules.Printable(ManagementUrl)}' is not an http(s) URL; set e.g. http://127.0.0.1:15672 or leave it unset",
                [nameof(ManagementUrl)]);
        }
    }
}

/// <summary>Settings of section "Cluster": the Orleans silo.</summary>
internal sealed class ClusterSettings
{
    public const string Section = "Cluster";

    [Required]
    public string ClusterId { get; set; } = "odoofleet";

    [Required]
    public string ServiceId { get; set; } = "odoofleet";

    [Range(1, 65535)]
    public int SiloPort { get; set; } = 11111;

    [Range(1, 65535)]
    public int GatewayPort { get; set; } = 30000;

    public string AdvertisedAddress { get; set; } = "127.0.0.1";

    /// <summary>Fast failure detection (tests, single box); production keeps Orleans' defaults.</summary>
    public bool FastFailureDetection { get; set; }
}
