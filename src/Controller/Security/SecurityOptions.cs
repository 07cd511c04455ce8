using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Net;

namespace OdooFleet.Controller.Security;

/// <summary>Settings of section "Security": the fleet CA, agent client certificates and the controller's server certificate.</summary>
internal sealed class SecurityOptions : IValidatableObject
{
    public const string Section = "Security";

    public static readonly TimeSpan MinAgentCertificateLifetime = TimeSpan.FromHours(1);
    public static readonly TimeSpan MaxAgentCertificateLifetime = TimeSpan.FromDays(90);

    /// <summary>PEM certificate of an operator-given CA to use as the fleet CA (with <see cref="CaKeyFile"/>); unset = the controller makes one.</summary>
    public string? CaCertificateFile { get; set; }

    /// <summary>PEM private key (PKCS#8 or SEC1/PKCS#1) of <see cref="CaCertificateFile"/>; the file must be mode 0600.</summary>
    public string? CaKeyFile { get; set; }

    /// <summary>How long an agent's client certificate is valid; agents renew at 2/3 of it.</summary>
    public TimeSpan AgentCertificateLifetime { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// DNS names and IP addresses of the controller's server certificate. Empty = the hosts of
    /// Fleet:AgentEndpoints plus localhost, 127.0.0.1 and ::1.
    /// </summary>
    public List<string> ServerNames { get; set; } = [];

    /// <summary>
    /// PBKDF2 rounds of new per-host Odoo master password hashes. Odoo 18's own value is the default;
    /// real agents refuse fewer than 210,000. Lower values exist only for simulated fleets (the
    /// rollout benchmark's thousands of virtual hosts), where each hash would cost ~0.6 CPU-seconds.
    /// </summary>
    public int OdooAdminHashRounds { get; set; } = 600_000;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (AgentCertificateLifetime < MinAgentCertificateLifetime || AgentCertificateLifetime > MaxAgentCertificateLifetime)
        {
            yield return new ValidationResult(
                $"Security:AgentCertificateLifetime: {AgentCertificateLifetime.ToString("c", CultureInfo.InvariantCulture)} is outside 01:00:00 .. 90.00:00:00; set e.g. 7.00:00:00",
                [nameof(AgentCertificateLifetime)]);
        }

        if (string.IsNullOrEmpty(CaCertificateFile) != string.IsNullOrEmpty(CaKeyFile))
        {
            yield return new ValidationResult(
                "Security:CaCertificateFile and Security:CaKeyFile: set both (to import a CA) or neither (the controller makes its own CA)",
                [nameof(CaCertificateFile), nameof(CaKeyFile)]);
        }

        if (OdooAdminHashRounds is < 1_000 or > 10_000_000)
        {
            yield return new ValidationResult(
                $"Security:OdooAdminHashRounds: {OdooAdminHashRounds} is outside 1000 .. 10000000; leave it unset (600000, Odoo 18's value) for real hosts",
                [nameof(OdooAdminHashRounds)]);
        }

        foreach (var name in ServerNames.Where(n => !IsServerName(n)))
        {
            yield return new ValidationResult(
                $"Security:ServerNames: '{Printable(name)}' is neither a DNS name nor an IP address; list names agents use in https:// URLs, e.g. controller.example.com or 10.0.0.1",
                [nameof(ServerNames)]);
        }
    }

    public static bool IsServerName(string name) =>
        IPAddress.TryParse(name, out _)
        || (name.Length is > 0 and <= 253 && name.Split('.').All(label =>
            label.Length is > 0 and <= 63 && label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-') && label[0] != '-' && label[^1] != '-'));

    private static string Printable(string value) => Domain.UntrustedText.Printable(value);
}
