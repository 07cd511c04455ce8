using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using OdooFleet.Agent.Transport;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Tests.Transport;

/// <summary>A real fleet CA made in the test: server and client certificates, and a command signing key.</summary>
internal sealed class TestPki : IDisposable
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    private readonly ECDsa caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    /// <param name="anchored">
    /// The CA is issued by a throwaway anchor instead of self-signed, so a TLS server (SslStream never
    /// sends a self-signed root) presents it and an agent can find the pinned CA in the handshake.
    /// </param>
    public TestPki(string name = "OdooFleet test CA", DateTimeOffset? notBefore = null, bool anchored = true)
    {
        NotBefore = notBefore ?? DateTimeOffset.UtcNow.AddDays(-1);
        var request = new CertificateRequest($"CN={name}", caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        if (anchored)
        {
            using var anchorKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var anchorRequest = new CertificateRequest($"CN={name} anchor", anchorKey, HashAlgorithmName.SHA256);
            anchorRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            using var anchor = anchorRequest.CreateSelfSigned(NotBefore, NotBefore.AddYears(20));
            using var issued = request.Create(anchor, NotBefore, NotBefore.AddYears(10), RandomSerial());
            Ca = issued.CopyWithPrivateKey(caKey);
        }
        else
        {
            Ca = request.CreateSelfSigned(NotBefore, NotBefore.AddYears(10));
        }

        SigningKeySpki = SigningKey.ExportSubjectPublicKeyInfo();
    }

    public DateTimeOffset NotBefore { get; }

    /// <summary>The CA with its private key.</summary>
    public X509Certificate2 Ca { get; }

    /// <summary>The CA as the agent sees it: public part only.</summary>
    public X509Certificate2 CaPublic => X509CertificateLoader.LoadCertificate(Ca.RawData);

    public byte[] Pin => SHA256.HashData(Ca.RawData);

    public ECDsa SigningKey { get; } = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public byte[] SigningKeySpki { get; }

    public string SigningKeyId => FleetTrust.KeyId(SigningKeySpki);

    /// <summary>A server certificate (with key) for localhost and 127.0.0.1.</summary>
    public X509Certificate2 IssueServer(string dnsName = "localhost")
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={dnsName}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(dnsName);
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ServerAuth], false));
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        using var issued = request.Create(Ca, NotBefore, NotBefore.AddYears(1), RandomSerial());
        return Pkcs12RoundTrip(issued.CopyWithPrivateKey(key));
    }

    /// <summary>What the controller does with a CSR: a client certificate for host <paramref name="hostId"/> (DER).</summary>
    public byte[] IssueClient(byte[] csr, string hostId, DateTimeOffset notBefore, TimeSpan lifetime, string? sanUri = null)
    {
        var request = CertificateRequest.LoadSigningRequest(csr, HashAlgorithmName.SHA256, CertificateRequestLoadOptions.Default);
        var client = new CertificateRequest(new X500DistinguishedName($"CN={hostId}"), request.PublicKey, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri(sanUri ?? FleetTrust.HostUriPrefix + hostId));
        client.CertificateExtensions.Add(san.Build());
        client.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ClientAuth], false));
        client.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        using var issued = client.Create(Ca.SubjectName, X509SignatureGenerator.CreateForECDsa(caKey), notBefore, notBefore + lifetime, RandomSerial());
        return issued.RawData;
    }

    /// <summary>An AgentIdentity message as the controller returns it for <paramref name="csr"/>.</summary>
    public AgentIdentity IdentityFor(byte[] csr, string hostId, DateTimeOffset notBefore, TimeSpan lifetime) => new()
    {
        Certificate = ByteString.CopyFrom(IssueClient(csr, hostId, notBefore, lifetime)),
        CaCertificate = ByteString.CopyFrom(Ca.RawData),
        CommandSigningKey = ByteString.CopyFrom(SigningKeySpki),
        CommandSigningKeyId = SigningKeyId,
    };

    /// <summary>A host identity (key, certificate, CA) as enroll writes it.</summary>
    public Configuration.AgentIdentity HostIdentity(string hostId, DateTimeOffset notBefore, TimeSpan lifetime)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var certificate = X509CertificateLoader.LoadCertificate(IssueClient(FleetTrust.CreateCsr(key, hostId), hostId, notBefore, lifetime));
        using var ca = CaPublic;
        return Configuration.AgentIdentity.Create(key, certificate, ca);
    }

    public CommandVerifier Verifier() => new(SigningKeySpki, SigningKeyId);

    /// <summary>Signs <paramref name="command"/> the way the controller does.</summary>
    public byte[] Sign(HostCommand command, string? keyId = null) =>
        Sign(command.ToByteArray(), keyId);

    public byte[] Sign(byte[] command, string? keyId = null) =>
        new SignedHostCommand
        {
            Command = ByteString.CopyFrom(command),
            Signature = ByteString.CopyFrom(SigningKey.SignData(command, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)),
            KeyId = keyId ?? SigningKeyId,
        }.ToByteArray();

    private static byte[] RandomSerial()
    {
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        return serial;
    }

    private static X509Certificate2 Pkcs12RoundTrip(X509Certificate2 withKey)
    {
        using (withKey)
        {
            return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
        }
    }

    public void Dispose()
    {
        Ca.Dispose();
        caKey.Dispose();
        SigningKey.Dispose();
    }
}
