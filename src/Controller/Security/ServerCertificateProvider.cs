using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;
using OdooFleet.Controller.Hosting;

namespace OdooFleet.Controller.Security;

/// <summary>
/// This controller's TLS server certificate, issued by the fleet CA at start and again (in
/// memory) once less than a third of its life remains. Each controller has its own key.
/// </summary>
internal sealed partial class ServerCertificateProvider(
    FleetCertificateAuthority authority,
    IOptions<SecurityOptions> security,
    IOptions<FleetOptions> fleet,
    TimeProvider time,
    ILogger<ServerCertificateProvider> logger)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromDays(30);

    private readonly Lock gate = new();
    private volatile Issued? current;

    public IReadOnlyList<string> Names { get; } = ResolveNames(security.Value, fleet.Value);

    /// <summary>The names the certificate carries: Security:ServerNames, or the hosts of Fleet:AgentEndpoints plus the loopback names.</summary>
    public static IReadOnlyList<string> ResolveNames(SecurityOptions security, FleetOptions fleet)
    {
        if (security.ServerNames.Count > 0)
        {
            return [.. security.ServerNames.Distinct(StringComparer.OrdinalIgnoreCase)];
        }

        var fromEndpoints = fleet.AgentEndpoints
            .Select(e => Uri.TryCreate(e, UriKind.Absolute, out var uri) ? uri.DnsSafeHost : null)
            .OfType<string>()
            .Where(SecurityOptions.IsServerName);
        return [.. fromEndpoints.Concat(["localhost", "127.0.0.1", "::1"]).Distinct(StringComparer.OrdinalIgnoreCase)];
    }

    /// <summary>The context handshakes use: leaf, key and the CA as chain (sent where the platform sends a root).</summary>
    public SslStreamCertificateContext Current()
    {
        var now = time.GetUtcNow();
        if (current is { } issued && now < issued.RenewAt)
        {
            return issued.Context;
        }

        lock (gate)
        {
            if (current is { } again && now < again.RenewAt)
            {
                return again.Context;
            }

            var certificate = authority.IssueServerCertificate(Names, Lifetime);
            var notBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime());
            var notAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime());
            var context = SslStreamCertificateContext.Create(certificate, [authority.CaCertificate], offline: true);
            current = new Issued(context, notAfter - ((notAfter - notBefore) / 3));
            LogIssued(logger, string.Join(", ", Names), notAfter.UtcDateTime);
            return context;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Server certificate issued by the fleet CA for {Names}, valid until {NotAfter:u}")]
    private static partial void LogIssued(ILogger logger, string names, DateTime notAfter);

    private sealed record Issued(SslStreamCertificateContext Context, DateTimeOffset RenewAt);
}
