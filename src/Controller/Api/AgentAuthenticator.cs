using System.Formats.Asn1;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Security;

namespace OdooFleet.Controller.Api;

/// <summary>
/// Authenticates agent calls by their TLS client certificate: issued by the fleet CA, valid now,
/// for client authentication, naming one host in its URI SAN, with a serial recorded for that
/// host and not revoked, for a host that still exists. Every refusal is logged and audited.
/// </summary>
internal sealed partial class AgentAuthenticator(
    FleetCertificateAuthority authority,
    HostCertificateStore certificates,
    AuditStore audit,
    TimeProvider time,
    ILogger<AgentAuthenticator> logger)
{
    private const string ReEnroll = "re-enroll the host with a new token (`fleet token create`, then `odoofleet-agent enroll`)";

    private static readonly Asn1Tag UriName = new(TagClass.ContextSpecific, 6);

    /// <summary>The id of the host whose certificate made this call; throws Unauthenticated (audited) otherwise.</summary>
    public Task<string> AuthenticateAsync(ServerCallContext context) =>
        AuthenticateAsync(context.GetHttpContext(), $"AgentService/{MethodOf(context)}", context.CancellationToken);

    /// <summary>
    /// The same checks for a plain HTTP request on the agent endpoint (release downloads);
    /// <paramref name="action"/> names it in logs and the audit log.
    /// </summary>
    public async Task<string> AuthenticateAsync(HttpContext http, string action, CancellationToken ct)
    {
        var certificate = http.Connection.ClientCertificate;
        if (certificate is null)
        {
            throw await RefuseAsync(http, action, null, http.Request.IsHttps ? "no client certificate" : "plain http, no client certificate",
                $"client certificate missing or not issued by this fleet; agents call the controller's https:// endpoint with their certificate, or {ReEnroll}");
        }

        var hostId = HostIdOf(certificate);
        var now = time.GetUtcNow().UtcDateTime;
        if (now < certificate.NotBefore.ToUniversalTime() || now >= certificate.NotAfter.ToUniversalTime())
        {
            throw await RefuseAsync(http, action, hostId, now < certificate.NotBefore.ToUniversalTime() ? "certificate not yet valid" : "certificate expired",
                $"client certificate has expired or is not yet valid (check the host's clock); {ReEnroll}");
        }

        if (!ChainsToFleetCa(certificate, now))
        {
            throw await RefuseAsync(http, action, hostId, "certificate not issued by this fleet's CA",
                $"client certificate missing or not issued by this fleet; {ReEnroll}");
        }

        if (!HasClientAuthUsage(certificate))
        {
            throw await RefuseAsync(http, action, hostId, "certificate lacks the clientAuth extended key usage",
                $"client certificate is not a fleet agent certificate; {ReEnroll}");
        }

        if (hostId is null)
        {
            throw await RefuseAsync(http, action, null, "certificate has no valid urn:odoofleet:host: URI",
                $"client certificate does not name a host; {ReEnroll}");
        }

        var standing = await certificates.CheckAsync(hostId, FleetCertificateAuthority.SerialOf(certificate), ct);
        if (standing != CertificateStanding.Valid)
        {
            var reason = standing switch
            {
                CertificateStanding.HostRemoved => "host removed from the fleet",
                CertificateStanding.Revoked => "certificate revoked",
                _ => "certificate serial not issued to this host",
            };
            throw await RefuseAsync(http, action, hostId, reason, $"this host's certificate is no longer accepted ({reason}); {ReEnroll}");
        }

        return hostId;
    }

    /// <summary>An authenticated host asked about another host (or another host's tenant): logged, audited, PermissionDenied.</summary>
    public async Task<RpcException> RefuseForeignHostAsync(
        ServerCallContext context, string hostId, string requestedHostId, string message, string reason = "host_id names another host")
    {
        var method = MethodOf(context);
        LogForeignAccess(logger, hostId, method, requestedHostId);
        await AuditAsync(context, $"agent:{hostId}", requestedHostId, $"denied: {reason}");
        return new RpcException(new Status(StatusCode.PermissionDenied, message));
    }

    /// <summary>An audit row for an agent call that succeeded and matters (certificate renewal).</summary>
    public Task RecordAsync(ServerCallContext context, string hostId, string result) =>
        AuditAsync(context, $"agent:{hostId}", hostId, result);

    private async Task<RpcException> RefuseAsync(HttpContext http, string action, string? hostId, string reason, string message)
    {
        var address = AddressOf(http);
        LogRefused(logger, action, hostId ?? "unknown", address, reason);
        await audit.AppendAsync(
            new AuditRecord(time.GetUtcNow(), $"agent:{hostId ?? "unknown"}", "", action, hostId ?? "", $"denied: {reason}", address), CancellationToken.None);
        return new RpcException(new Status(StatusCode.Unauthenticated, message));
    }

    private Task AuditAsync(ServerCallContext context, string actor, string target, string result) =>
        audit.AppendAsync(
            new AuditRecord(time.GetUtcNow(), actor, "", $"AgentService/{MethodOf(context)}", target, result, AddressOf(context.GetHttpContext())),
            context.CancellationToken);

    private bool ChainsToFleetCa(X509Certificate2 certificate, DateTime now)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority.CaCertificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.VerificationTime = now;
        chain.ChainPolicy.VerificationTimeIgnored = false;
        try
        {
            // The leaf is issued by the CA itself: nothing in between is accepted.
            return chain.Build(certificate)
                && chain.ChainElements.Count == 2
                && chain.ChainElements[1].Certificate.RawDataMemory.Span.SequenceEqual(authority.CaCertificate.RawDataMemory.Span);
        }
        finally
        {
            foreach (var element in chain.ChainElements)
            {
                element.Certificate.Dispose();
            }
        }
    }

    private static bool HasClientAuthUsage(X509Certificate2 certificate) =>
        certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>()
            .Any(e => e.EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Any(o => o.Value == FleetCertificateAuthority.ClientAuthOid));

    /// <summary>The host id of the certificate's single urn:odoofleet:host: URI SAN, or null if it has none (or several, or a malformed one).</summary>
    private static string? HostIdOf(X509Certificate2 certificate)
    {
        var san = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        if (san is null)
        {
            return null;
        }

        try
        {
            var names = new AsnReader(san.RawData, AsnEncodingRules.DER).ReadSequence();
            string? hostId = null;
            while (names.HasData)
            {
                if (!names.PeekTag().HasSameClassAndValue(UriName))
                {
                    names.ReadEncodedValue();
                    continue;
                }

                var uri = names.ReadCharacterString(UniversalTagNumber.IA5String, UriName);
                if (!uri.StartsWith(FleetCertificateAuthority.HostUriPrefix, StringComparison.Ordinal))
                {
                    continue;
                }

                var id = uri[FleetCertificateAuthority.HostUriPrefix.Length..];
                if (hostId is not null || !Validation.IsId(id, 'h'))
                {
                    return null;
                }

                hostId = id;
            }

            return hostId;
        }
        catch (AsnContentException)
        {
            return null;
        }
    }

    private static string MethodOf(ServerCallContext context) => context.Method[(context.Method.LastIndexOf('/') + 1)..];

    private static string AddressOf(HttpContext http) =>
        http.Connection.RemoteIpAddress is { } ip
            ? (ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip).ToString()
            : "";

    [LoggerMessage(Level = LogLevel.Warning, Message = "Agent call {Method} from {Address} (host {HostId}) refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string method, string hostId, string address, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Host {HostId} called {Method} for another host {OtherHostId}: refused")]
    private static partial void LogForeignAccess(ILogger logger, string hostId, string method, string otherHostId);
}
