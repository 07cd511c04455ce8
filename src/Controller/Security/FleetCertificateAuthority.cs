using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.Extensions.Options;
using OdooFleet.Controller.Hosting;
using OdooFleet.Controller.Secrets;

namespace OdooFleet.Controller.Security;

/// <summary>The fleet CA cannot be used as configured; the message says what to change.</summary>
internal sealed class FleetCaException(string message) : Exception(message);

/// <summary>A client certificate as sent to the agent (DER) and as recorded in host_certificates.</summary>
internal sealed record IssuedClientCertificate(byte[] Der, HostCertificate Record);

/// <summary>
/// The fleet CA: made once per fleet (or imported from the operator) and kept in the
/// <see cref="SecretStore"/>, so every controller signs with the same key. Issues agents' client
/// certificates and the controllers' server certificates.
/// </summary>
internal sealed partial class FleetCertificateAuthority(
    SecretStore secrets,
    IOptions<SecurityOptions> options,
    IOptions<ClusterSettings> cluster,
    TimeProvider time,
    ILogger<FleetCertificateAuthority> logger) : IDisposable
{
    public const string SecretName = "pki/fleet-ca";
    public const string HostUriPrefix = "urn:odoofleet:host:";
    public const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";
    public const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";
    private const string RsaEncryptionOid = "1.2.840.113549.1.1.1";

    /// <summary>Certificates start a little in the past, so a host whose clock is behind accepts them at once.</summary>
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan CaLifetime = TimeSpan.FromDays(3652);

    private readonly Lock signing = new();
    private X509Certificate2? ca;
    private AsymmetricAlgorithm? caKey;
    private X509SignatureGenerator? signer;

    public X509Certificate2 CaCertificate =>
        ca ?? throw new InvalidOperationException("the fleet CA is not loaded: call InitializeAsync at start");

    /// <summary>Lowercase hex SHA-256 of the CA certificate (DER): what `enroll --ca-sha256` pins.</summary>
    public string CaSha256 => Convert.ToHexStringLower(SHA256.HashData(CaCertificate.RawData));

    /// <summary>The URI SAN naming a host in its client certificate.</summary>
    public static string HostUri(string hostId) => HostUriPrefix + hostId;

    /// <summary>Loads the fleet CA, making (or importing) it first if the fleet has none. Safe on several controllers at once.</summary>
    public async Task InitializeAsync(CancellationToken ct)
    {
        var o = options.Value;
        var imported = string.IsNullOrEmpty(o.CaCertificateFile) ? null : Import(o.CaCertificateFile, o.CaKeyFile!);
        var made = false;
        var stored = await secrets.GetOrAddAsync(SecretName, () =>
        {
            made = true;
            return imported ?? Create(cluster.Value.ClusterId);
        }, ct);

        var loaded = Load(stored);
        if (imported is not null && !Load(imported).RawData.AsSpan().SequenceEqual(loaded.RawData))
        {
            var storedSha = Convert.ToHexStringLower(SHA256.HashData(loaded.RawData));
            loaded.Dispose();
            throw new FleetCaException(
                $"Security:CaCertificateFile: the fleet already has another CA (sha256 {storedSha}) and every enrolled agent trusts only that one; " +
                "remove Security:CaCertificateFile and Security:CaKeyFile to keep the existing CA (changing the CA means re-enrolling every host)");
        }

        if (loaded.NotAfter.ToUniversalTime() <= time.GetUtcNow().UtcDateTime)
        {
            throw new FleetCaException(
                $"the fleet CA expired at {loaded.NotAfter.ToUniversalTime():u}; import a new one with Security:CaCertificateFile and Security:CaKeyFile and re-enroll the hosts");
        }

        ca = loaded;
        // The request's own key type must not decide how the CA signs: an ECDSA CA signs RSA agents' keys too.
        if (loaded.GetECDsaPrivateKey() is { } ec)
        {
            caKey = ec;
            signer = X509SignatureGenerator.CreateForECDsa(ec);
        }
        else
        {
            var rsa = loaded.GetRSAPrivateKey()!;
            caKey = rsa;
            signer = X509SignatureGenerator.CreateForRSA(rsa, RSASignaturePadding.Pkcs1);
        }

        LogLoaded(logger, made ? (imported is null ? "created" : "imported") : "loaded", loaded.Subject, CaSha256, loaded.NotAfter.ToUniversalTime());
    }

    /// <summary>A client certificate for <paramref name="hostId"/> with the key of <paramref name="csr"/>; nothing else of the request is used.</summary>
    public IssuedClientCertificate IssueClientCertificate(string hostId, ReadOnlySpan<byte> csr)
    {
        var publicKey = CertificateSigningRequests.ReadPublicKey(csr);
        var subject = new X500DistinguishedNameBuilder();
        subject.AddCommonName(hostId);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri(HostUri(hostId)));

        var request = NewRequest(subject.Build(), publicKey);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(ClientAuthOid)], critical: false));
        request.CertificateExtensions.Add(san.Build());

        var now = time.GetUtcNow();
        using var certificate = Sign(request, now, options.Value.AgentCertificateLifetime);
        return new IssuedClientCertificate(
            certificate.RawData, new HostCertificate(SerialOf(certificate), now, certificate.NotAfter.ToUniversalTime()));
    }

    /// <summary>A server certificate (with its new private key) for the given DNS names and IP addresses.</summary>
    public X509Certificate2 IssueServerCertificate(IReadOnlyList<string> names, TimeSpan lifetime)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var subject = new X500DistinguishedNameBuilder();
        subject.AddCommonName("OdooFleet controller");
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in names)
        {
            if (IPAddress.TryParse(name, out var address))
            {
                san.AddIpAddress(address);
            }
            else
            {
                san.AddDnsName(name);
            }
        }

        var request = NewRequest(subject.Build(), new PublicKey(key));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(ServerAuthOid)], critical: false));
        request.CertificateExtensions.Add(san.Build());
        using var certificate = Sign(request, time.GetUtcNow(), lifetime);
        return certificate.CopyWithPrivateKey(key);
    }

    /// <summary>The serial as host_certificates keys it: lowercase hex, big-endian.</summary>
    public static string SerialOf(X509Certificate2 certificate) => certificate.SerialNumber.ToLowerInvariant();

    public void Dispose()
    {
        caKey?.Dispose();
        ca?.Dispose();
    }

    private CertificateRequest NewRequest(X500DistinguishedName subject, PublicKey publicKey)
    {
        var request = new CertificateRequest(subject, publicKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(publicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(CaCertificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        return request;
    }

    private X509Certificate2 Sign(CertificateRequest request, DateTimeOffset now, TimeSpan lifetime)
    {
        // A leaf may not outlive its CA, nor start before it.
        var caNotBefore = new DateTimeOffset(CaCertificate.NotBefore.ToUniversalTime());
        var caNotAfter = new DateTimeOffset(CaCertificate.NotAfter.ToUniversalTime());
        var notBefore = Max(now - ClockSkew, caNotBefore);
        var notAfter = Min(now + lifetime, caNotAfter);
        var generator = signer ?? throw new InvalidOperationException("the fleet CA is not loaded: call InitializeAsync at start");
        lock (signing)
        {
            return request.Create(CaCertificate.SubjectName, generator, notBefore, notAfter, NewSerial());
        }
    }

    /// <summary>16 random bytes, top bit clear (a positive INTEGER) and first byte non-zero (always 16 bytes long).</summary>
    private static byte[] NewSerial()
    {
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] = (byte)((serial[0] & 0x7F) | 0x01);
        return serial;
    }

    private byte[] Create(string clusterId)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var subject = new X500DistinguishedNameBuilder();
        subject.AddCommonName($"OdooFleet fleet CA {clusterId}");
        var request = new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        var now = time.GetUtcNow();
        using var certificate = request.CreateSelfSigned(now - ClockSkew, now + CaLifetime);
        return Serialize(certificate.RawData, key.ExportPkcs8PrivateKey());
    }

    /// <summary>The operator's CA from PEM files, checked, in the stored form.</summary>
    private static byte[] Import(string certificateFile, string keyFile)
    {
        if (!File.Exists(certificateFile))
        {
            throw new FleetCaException($"Security:CaCertificateFile '{certificateFile}' does not exist; give the CA certificate as PEM");
        }

        if (!File.Exists(keyFile))
        {
            throw new FleetCaException($"Security:CaKeyFile '{keyFile}' does not exist; give the CA's private key as PEM (mode 0600)");
        }

        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(keyFile) & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute)) != 0)
        {
            throw new FleetCaException($"Security:CaKeyFile '{keyFile}' is open to group or others; `chmod 0600 {keyFile}`");
        }

        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPemFile(certificateFile, keyFile);
        }
        catch (CryptographicException e)
        {
            throw new FleetCaException(
                $"Security:CaCertificateFile/CaKeyFile: cannot load a certificate and its matching private key ({e.Message}); give a PEM certificate and its unencrypted PEM key");
        }

        using (certificate)
        {
            var constraints = certificate.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault();
            var usage = certificate.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault();
            if (constraints is not { CertificateAuthority: true } || (usage is not null && !usage.KeyUsages.HasFlag(X509KeyUsageFlags.KeyCertSign)))
            {
                throw new FleetCaException(
                    $"Security:CaCertificateFile '{certificateFile}' is not a CA certificate (it needs basicConstraints CA:TRUE and keyUsage keyCertSign)");
            }

            byte[] pkcs8;
            using (var ec = certificate.GetECDsaPrivateKey())
            using (var rsa = certificate.GetRSAPrivateKey())
            {
                pkcs8 = ec?.ExportPkcs8PrivateKey()
                    ?? (rsa is { KeySize: >= 2048 } ? rsa.ExportPkcs8PrivateKey() : null)
                    ?? throw new FleetCaException($"Security:CaKeyFile '{keyFile}': the CA key must be ECDSA or RSA of at least 2048 bits");
            }

            return Serialize(certificate.RawData, pkcs8);
        }
    }

    private static byte[] Serialize(byte[] certificate, byte[] pkcs8) =>
        JsonSerializer.SerializeToUtf8Bytes(new StoredCa(certificate, pkcs8));

    private static X509Certificate2 Load(byte[] stored)
    {
        var parts = JsonSerializer.Deserialize<StoredCa>(stored)
            ?? throw new FleetCaException($"secret '{SecretName}' is empty; delete it to let the controller make a new CA (and re-enroll every host)");
        using var certificate = X509CertificateLoader.LoadCertificate(parts.Certificate);
        if (certificate.PublicKey.Oid.Value != RsaEncryptionOid)
        {
            using var ec = ECDsa.Create();
            ec.ImportPkcs8PrivateKey(parts.Key, out _);
            return certificate.CopyWithPrivateKey(ec);
        }

        using var rsa = RSA.Create();
        rsa.ImportPkcs8PrivateKey(parts.Key, out _);
        return certificate.CopyWithPrivateKey(rsa);
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    [LoggerMessage(Level = LogLevel.Information, Message = "Fleet CA {How}: {Subject}, sha256 {Sha256}, valid until {NotAfter:u}")]
    private static partial void LogLoaded(ILogger logger, string how, string subject, string sha256, DateTime notAfter);

    /// <summary>What the secret holds: the CA certificate (DER) and its private key (PKCS#8).</summary>
    private sealed record StoredCa(byte[] Certificate, byte[] Key);
}
