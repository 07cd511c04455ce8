using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using OdooFleet.Agent.IO;

namespace OdooFleet.Agent.Configuration;

/// <summary>
/// The host's TLS identity: its client certificate with the private key, and the fleet CA it
/// trusts for controllers. Stored as one PEM file (PKCS#8 key, client certificate, CA), mode 0600.
/// </summary>
internal sealed class AgentIdentity : IDisposable
{
    private const string KeyLabel = "PRIVATE KEY";
    private const string CertificateLabel = "CERTIFICATE";

    private readonly ECDsa key;

    private AgentIdentity(ECDsa key, X509Certificate2 certificate, X509Certificate2 ca)
    {
        this.key = key;
        Certificate = certificate;
        Ca = ca;
    }

    /// <summary>The client certificate, with its private key (what TLS presents).</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The fleet CA: the only root trusted for controllers.</summary>
    public X509Certificate2 Ca { get; }

    /// <summary>Takes ownership of <paramref name="key"/>; <paramref name="certificate"/> must be for that key.</summary>
    public static AgentIdentity Create(ECDsa key, X509Certificate2 certificate, X509Certificate2 ca)
    {
        using var publicOnly = X509CertificateLoader.LoadCertificate(certificate.RawData);
        return new AgentIdentity(key, UsableForTls(publicOnly.CopyWithPrivateKey(key)), X509CertificateLoader.LoadCertificate(ca.RawData));
    }

    public static async Task<AgentIdentity> LoadAsync(string path, CancellationToken ct)
    {
        string text;
        try
        {
            text = await File.ReadAllTextAsync(path, Encoding.ASCII, ct);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ConfigException($"{path}: identity file not found; re-enroll with `odoofleet-agent enroll --force` and a new token");
        }

        try
        {
            return Parse(text);
        }
        catch (CryptographicException e)
        {
            throw new ConfigException($"{path}: not a valid identity ({e.Message}); re-enroll with `odoofleet-agent enroll --force` and a new token");
        }
    }

    /// <summary>Reads "PRIVATE KEY, CERTIFICATE (client), CERTIFICATE (CA)" in that order.</summary>
    public static AgentIdentity Parse(string pem)
    {
        var blocks = new List<(string Label, byte[] Der)>();
        var rest = pem.AsSpan();
        while (PemEncoding.TryFind(rest, out var fields))
        {
            blocks.Add((rest[fields.Label].ToString(), Convert.FromBase64String(rest[fields.Base64Data].ToString())));
            rest = rest[fields.Location.End..];
        }

        if (blocks.Count != 3 || blocks[0].Label != KeyLabel || blocks[1].Label != CertificateLabel || blocks[2].Label != CertificateLabel)
        {
            throw new CryptographicException(
                $"expected PEM blocks {KeyLabel}, {CertificateLabel}, {CertificateLabel}, found {string.Join(", ", blocks.Select(b => b.Label))}");
        }

        var key = ECDsa.Create();
        try
        {
            key.ImportPkcs8PrivateKey(blocks[0].Der, out _);
            using var certificate = X509CertificateLoader.LoadCertificate(blocks[1].Der);
            using var ca = X509CertificateLoader.LoadCertificate(blocks[2].Der);
            if (!certificate.PublicKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(key.ExportSubjectPublicKeyInfo()))
            {
                throw new CryptographicException("the client certificate is not for the private key in the file");
            }

            return Create(key, certificate, ca);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    public string ToPem() =>
        new StringBuilder()
            .AppendLine(PemEncoding.WriteString(KeyLabel, key.ExportPkcs8PrivateKey()))
            .AppendLine(PemEncoding.WriteString(CertificateLabel, Certificate.RawData))
            .AppendLine(PemEncoding.WriteString(CertificateLabel, Ca.RawData))
            .ToString();

    /// <summary>Writes the identity atomically, mode 0600, in a 0700 directory.</summary>
    public async Task SaveAsync(string path, CancellationToken ct)
    {
        PrivateDirectory.Ensure(path);
        await AtomicFile.WriteAsync(path, Encoding.ASCII.GetBytes(ToPem()), UnixFileMode.UserRead | UnixFileMode.UserWrite, ct);
    }

    /// <summary>
    /// SslStream needs a certificate whose key it can hand to OpenSSL; a PKCS#12 round trip gives
    /// one independent of the ECDsa object (which this class keeps for writing the file).
    /// </summary>
    private static X509Certificate2 UsableForTls(X509Certificate2 withKey)
    {
        using (withKey)
        {
            var pkcs12 = withKey.Export(X509ContentType.Pkcs12);
            try
            {
                return X509CertificateLoader.LoadPkcs12(pkcs12, password: null, X509KeyStorageFlags.EphemeralKeySet);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(pkcs12);
            }
        }
    }

    public void Dispose()
    {
        Certificate.Dispose();
        Ca.Dispose();
        key.Dispose();
    }
}
