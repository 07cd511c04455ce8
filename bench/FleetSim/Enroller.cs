using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using OdooFleet.Contracts.V1;

namespace OdooFleet.FleetSim;

/// <summary>The fleet's command signing key as agents learn it at enrollment.</summary>
internal sealed record SigningKey(ECDsa Key, string KeyId);

/// <summary>
/// Enrolls virtual hosts exactly as `odoofleet-agent enroll` does: a token from the admin API
/// (bound to the host's name), a P-256 key made here, its CSR and facts over TLS to the agent
/// endpoint (the CA pinned by the token's ca_sha256); the returned identity is checked.
/// </summary>
internal sealed class Enroller(FleetService.FleetServiceClient api, Metadata apiAuth, GrpcChannel enrollChannel, string agentUrl, X509Certificate2 ca)
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(120);

    public SigningKey? Signing { get; private set; }

    public async Task<SimHost> EnrollAsync(string name, CancellationToken ct)
    {
        var token = await api.CreateEnrollmentTokenAsync(
            new CreateEnrollmentTokenRequest { TtlSeconds = 3600, HostName = name, Labels = { ["bench"] = "fleetsim" } },
            apiAuth, DateTime.UtcNow.Add(CallTimeout), ct);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var csr = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256).CreateSigningRequest();
        var response = await new AgentService.AgentServiceClient(enrollChannel).EnrollAsync(
            new EnrollRequest
            {
                Token = token.Token,
                Name = name,
                Csr = ByteString.CopyFrom(csr),
                Facts = new HostFacts
                {
                    Hostname = name, OsId = "ubuntu", OsVersion = "24.04", CpuCores = 4, MemoryBytes = 8L << 30, AgentVersion = "fleetsim",
                },
            },
            deadline: DateTime.UtcNow.Add(CallTimeout), cancellationToken: ct);

        var identity = response.Identity ?? throw new InvalidOperationException($"{name}: the enrollment answer carries no identity");
        if (!SHA256.HashData(identity.CaCertificate.Span).AsSpan().SequenceEqual(Convert.FromHexString(token.CaSha256)))
        {
            throw new InvalidOperationException($"{name}: the returned CA is not the one the token pinned");
        }

        using var issued = X509CertificateLoader.LoadCertificate(identity.Certificate.Span);
        if (!issued.PublicKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(key.ExportSubjectPublicKeyInfo()))
        {
            throw new InvalidOperationException($"{name}: the returned certificate is not for the key this host made");
        }

        LearnSigningKey(identity);
        using var withKey = issued.CopyWithPrivateKey(key);
        // SslStream needs a certificate whose private key it can use: a PKCS#12 round trip gives one.
        var usable = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
        return new SimHost(response.HostId, response.Name, response.Broker.Queue, usable, agentUrl, ca);
    }

    private void LearnSigningKey(AgentIdentity identity)
    {
        var spki = identity.CommandSigningKey.ToByteArray();
        var keyId = Convert.ToHexStringLower(SHA256.HashData(spki)[..8]);
        if (keyId != identity.CommandSigningKeyId)
        {
            throw new InvalidOperationException($"command_signing_key_id '{identity.CommandSigningKeyId}' is not the id of the key sent ({keyId})");
        }

        if (Signing is { } known)
        {
            if (known.KeyId != keyId)
            {
                throw new InvalidOperationException($"two enrollments returned different command signing keys ({known.KeyId}, {keyId})");
            }

            return;
        }

        var ecdsa = ECDsa.Create();
        ecdsa.ImportSubjectPublicKeyInfo(spki, out _);
        if (ecdsa.KeySize != 256)
        {
            ecdsa.Dispose();
            throw new InvalidOperationException($"command_signing_key is a {ecdsa.KeySize}-bit key, P-256 expected");
        }

        lock (this)
        {
            Signing ??= new SigningKey(ecdsa, keyId);
        }
    }
}
