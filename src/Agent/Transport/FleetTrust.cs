using System.Formats.Asn1;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Transport;

/// <summary>An identity the controller returned, checked against what the agent asked for.</summary>
internal sealed record VerifiedIdentity(X509Certificate2 Certificate, X509Certificate2 Ca, byte[] CommandSigningKey, string CommandSigningKeyId);

internal sealed class IdentityException(string message) : Exception(message);

/// <summary>
/// What the agent trusts: controllers whose server certificate chains to the fleet CA (pinned by its
/// SHA-256 at enrollment), and identities whose certificate is for the agent's own key and host.
/// Pure functions over certificates, so every rule is testable with certificates made in a test.
/// </summary>
internal static partial class FleetTrust
{
    public const string HostUriPrefix = "urn:odoofleet:host:";

    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    /// <summary>A CA pin: 64 hex digits (SHA-256 of the CA certificate's DER), ':' separators and case ignored.</summary>
    public static byte[] ParsePin(string text)
    {
        var hex = text.Trim().Replace(":", "", StringComparison.Ordinal);
        if (!HexPin().IsMatch(hex))
        {
            throw new FormatException(
                $"--ca-sha256 '{text.Trim()}': expected 64 hex digits (the SHA-256 of the fleet CA certificate, printed by `fleet token create` as ca_sha256)");
        }

        return Convert.FromHexString(hex);
    }

    public static byte[] Fingerprint(X509Certificate2 certificate) => SHA256.HashData(certificate.RawData);

    /// <summary>Lowercase hex of the first 8 bytes of SHA-256 of a SubjectPublicKeyInfo.</summary>
    public static string KeyId(ReadOnlySpan<byte> subjectPublicKeyInfo) =>
        Convert.ToHexStringLower(SHA256.HashData(subjectPublicKeyInfo)[..8]);

    public static bool IsCa(X509Certificate2 certificate) =>
        certificate.Extensions.OfType<X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority);

    /// <summary>A PKCS#10 request (DER) for <paramref name="key"/> with CN = <paramref name="commonName"/>.</summary>
    public static byte[] CreateCsr(ECDsa key, string commonName)
    {
        var subject = new X500DistinguishedNameBuilder();
        subject.AddCommonName(commonName);
        return new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256).CreateSigningRequest();
    }

    /// <summary>Null if a controller's server certificate is trusted (chains to <paramref name="ca"/>, name matches), else why not.</summary>
    public static string? CheckServer(X509Certificate2 ca, X509Certificate? presented, X509Chain? presentedChain, SslPolicyErrors errors, DateTimeOffset now)
    {
        if (presented is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return "the server presented no certificate";
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return "the server certificate is not for the host name in the URL";
        }

        using var leaf = X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
        return ChainsTo(leaf, ca, ServerAuth, Presented(presentedChain), now);
    }

    /// <summary>
    /// Enrollment: null if the server presented the pinned CA (a CA certificate whose SHA-256 is
    /// <paramref name="pin"/>) and its certificate chains to it with a matching name, else why not.
    /// </summary>
    /// <remarks>
    /// A TLS server built on SslStream (Kestrel) never sends a self-signed root: the controller must
    /// present the fleet CA as a non-root (e.g. a CA certificate issued by a throwaway anchor), or the
    /// agent must be given the CA itself (<paramref name="knownCa"/>, from --ca-file).
    /// </remarks>
    public static string? CheckEnrollmentServer(
        byte[] pin, X509Certificate2? knownCa, X509Certificate? presented, X509Chain? presentedChain, SslPolicyErrors errors, DateTimeOffset now)
    {
        if (presented is null)
        {
            return "the server presented no certificate";
        }

        var candidates = Presented(presentedChain);
        using var leaf = X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
        candidates.Add(leaf);
        if (knownCa is not null)
        {
            candidates.Add(knownCa);
        }

        var ca = candidates.FirstOrDefault(c => Fingerprint(c).AsSpan().SequenceEqual(pin));
        if (ca is null)
        {
            return $"no certificate the server presented has the pinned SHA-256 {Convert.ToHexStringLower(pin)} " +
                "(is this the right controller, and is the pin the ca_sha256 printed by `fleet token create`? " +
                "if the controller does not send its CA, give it with --ca-file)";
        }

        if (!IsCa(ca))
        {
            return "the certificate with the pinned SHA-256 is not a CA certificate";
        }

        return CheckServer(ca, presented, presentedChain, errors, now);
    }

    /// <summary>
    /// Checks a returned identity: the CA is the pinned one, the certificate is for <paramref name="ourKey"/>,
    /// names <paramref name="hostId"/> in its SAN URI, chains to the CA for client auth, and the command
    /// signing key is a P-256 key whose id matches.
    /// </summary>
    public static VerifiedIdentity CheckIdentity(AgentIdentity? identity, byte[] caPin, ECDsa ourKey, string hostId, DateTimeOffset now)
    {
        if (identity is null || identity.Certificate.IsEmpty || identity.CaCertificate.IsEmpty)
        {
            throw new IdentityException("the response carries no identity (certificate and CA); is the controller older than this agent?");
        }

        if (!HostIdPattern().IsMatch(hostId))
        {
            throw new IdentityException($"host_id '{Printable(hostId)}' is not 1-64 letters, digits, '-' or '_'");
        }

        var ca = Load(identity.CaCertificate.Span, "ca_certificate");
        var certificate = Load(identity.Certificate.Span, "certificate");
        try
        {
            if (!Fingerprint(ca).AsSpan().SequenceEqual(caPin))
            {
                throw new IdentityException(
                    $"ca_certificate has SHA-256 {Convert.ToHexStringLower(Fingerprint(ca))}, not the pinned {Convert.ToHexStringLower(caPin)}");
            }

            if (!IsCa(ca))
            {
                throw new IdentityException("ca_certificate is not a CA certificate");
            }

            if (!certificate.PublicKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(ourKey.ExportSubjectPublicKeyInfo()))
            {
                throw new IdentityException("certificate is not for the key this host made (its public key differs from the CSR's)");
            }

            var expected = HostUriPrefix + hostId;
            var uris = SanUris(certificate);
            if (!uris.Contains(expected, StringComparer.Ordinal)
                || uris.Any(u => u.StartsWith(HostUriPrefix, StringComparison.Ordinal) && u != expected))
            {
                throw new IdentityException(
                    $"certificate SAN URIs [{string.Join(", ", uris.Select(Printable))}] do not name exactly this host ({expected})");
            }

            if (ChainsTo(certificate, ca, ClientAuth, [], now) is { } chainError)
            {
                throw new IdentityException($"certificate: {chainError}");
            }

            var signingKey = identity.CommandSigningKey.ToByteArray();
            CheckSigningKey(signingKey, identity.CommandSigningKeyId);
            return new VerifiedIdentity(certificate, ca, signingKey, identity.CommandSigningKeyId);
        }
        catch
        {
            certificate.Dispose();
            ca.Dispose();
            throw;
        }
    }

    /// <summary>The command signing key must be a P-256 SubjectPublicKeyInfo whose id is <paramref name="keyId"/>.</summary>
    public static void CheckSigningKey(byte[] subjectPublicKeyInfo, string keyId)
    {
        using var key = ECDsa.Create();
        try
        {
            key.ImportSubjectPublicKeyInfo(subjectPublicKeyInfo, out _);
        }
        catch (CryptographicException e)
        {
            throw new IdentityException($"command_signing_key is not an ECDSA public key (SubjectPublicKeyInfo DER): {e.Message}");
        }

        if (key.KeySize != 256)
        {
            throw new IdentityException($"command_signing_key is a {key.KeySize}-bit key; expected ECDSA P-256");
        }

        if (keyId != KeyId(subjectPublicKeyInfo))
        {
            throw new IdentityException($"command_signing_key_id '{Printable(keyId)}' is not the id of command_signing_key ({KeyId(subjectPublicKeyInfo)})");
        }
    }

    /// <summary>The uniformResourceIdentifier entries of the certificate's subjectAltName.</summary>
    public static IReadOnlyList<string> SanUris(X509Certificate2 certificate)
    {
        var san = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        if (san is null)
        {
            return [];
        }

        var uris = new List<string>();
        var uriTag = new Asn1Tag(TagClass.ContextSpecific, 6);
        try
        {
            var names = new AsnReader(san.RawData, AsnEncodingRules.DER).ReadSequence();
            while (names.HasData)
            {
                if (names.PeekTag() == uriTag)
                {
                    uris.Add(names.ReadCharacterString(UniversalTagNumber.IA5String, uriTag));
                }
                else
                {
                    names.ReadEncodedValue();
                }
            }
        }
        catch (AsnContentException)
        {
            return [];
        }

        return uris;
    }

    private static string? ChainsTo(X509Certificate2 leaf, X509Certificate2 ca, Oid usage, X509Certificate2Collection extra, DateTimeOffset now)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.VerificationTimeIgnored = false;
        chain.ChainPolicy.ApplicationPolicy.Add(usage);
        chain.ChainPolicy.ExtraStore.AddRange(extra);
        var built = chain.Build(leaf);
        var top = chain.ChainElements.Count > 0 ? chain.ChainElements[^1].Certificate : null;
        var endsAtCa = top is not null && top.RawData.AsSpan().SequenceEqual(ca.RawData);
        if (built ? endsAtCa : endsAtCa && EndsAtIssuedAnchor(chain))
        {
            return null;
        }

        if (built)
        {
            return "chains to a root other than the fleet CA";
        }

        var statuses = chain.ChainStatus.Select(s => s.Status.ToString()).Distinct();
        return $"does not chain to the fleet CA {Convert.ToHexStringLower(Fingerprint(ca))} at {now:O} ({string.Join(", ", statuses)})";
    }

    /// <summary>
    /// A fleet CA that is not self-signed (issued by an anchor nobody holds, so TLS servers send it)
    /// is trusted as an anchor by the agent, but the platform reports such a chain as partial. It is
    /// accepted only when being partial is the sole fault and every certificate below the CA is clean
    /// (signature, validity time, usage were all checked).
    /// </summary>
    private static bool EndsAtIssuedAnchor(X509Chain chain)
    {
        if (chain.ChainStatus.Any(s => s.Status != X509ChainStatusFlags.PartialChain))
        {
            return false;
        }

        for (var i = 0; i < chain.ChainElements.Count - 1; i++)
        {
            if (chain.ChainElements[i].ChainElementStatus.Any(s => s.Status != X509ChainStatusFlags.NoError))
            {
                return false;
            }
        }

        return chain.ChainElements[^1].ChainElementStatus.All(s => s.Status is X509ChainStatusFlags.NoError or X509ChainStatusFlags.PartialChain);
    }

    private static X509Certificate2Collection Presented(X509Chain? chain)
    {
        var certificates = new X509Certificate2Collection();
        if (chain is null)
        {
            return certificates;
        }

        certificates.AddRange(chain.ChainPolicy.ExtraStore);
        foreach (var element in chain.ChainElements)
        {
            certificates.Add(element.Certificate);
        }

        return certificates;
    }

    private static X509Certificate2 Load(ReadOnlySpan<byte> der, string field)
    {
        try
        {
            return X509CertificateLoader.LoadCertificate(der);
        }
        catch (CryptographicException e)
        {
            throw new IdentityException($"{field} is not a DER certificate: {e.Message}");
        }
    }

    private static string Printable(string value) =>
        new(value.Take(100).Select(c => char.IsControl(c) ? '?' : c).ToArray());

    [GeneratedRegex("^[0-9A-Fa-f]{64}$")]
    private static partial Regex HexPin();

    [GeneratedRegex(@"^[A-Za-z0-9_-]{1,64}\z")]
    private static partial Regex HostIdPattern();
}
