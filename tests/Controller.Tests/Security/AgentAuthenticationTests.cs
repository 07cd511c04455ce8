using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Secrets;
using OdooFleet.Controller.Security;
using OdooFleet.Controller.Tests.Persistence;
using Xunit;

namespace OdooFleet.Controller.Tests.Security;

/// <summary>
/// Agents' mutual TLS against a real Kestrel on 127.0.0.1 hosting the real AgentService, with
/// real client certificates: who gets in, who does not, and the audit trail of every refusal.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class AgentAuthenticationTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly SecretKey Key = new(RandomNumberGenerator.GetBytes(32));
    private static readonly DateTimeOffset Epoch = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<TestAgentEndpoint> StartAsync() =>
        TestAgentEndpoint.StartAsync(fixture.Database, Key, new FakeTimeProvider(DateTimeOffset.UtcNow));

    private async Task<IReadOnlyList<AuditRecord>> AuditAsync(string actor) =>
        await new AuditStore(fixture.Database.DataSource).ListAsync(Epoch, AuditStore.MaxLimit, actor, Ct);

    private static async Task<RpcException> RefusedAsync(Func<Task> call) => await Assert.ThrowsAsync<RpcException>(call);

    [Fact]
    public async Task Enroll_OverHttpsWithTokenAndCsr_CertificateNamesTheHostAndAuthenticates()
    {
        await using var endpoint = await StartAsync();

        var agent = await endpoint.EnrollAsync(Ct);

        var identity = agent.Response.Identity;
        Assert.Equal(endpoint.Authority.CaCertificate.RawData, identity.CaCertificate.ToByteArray());
        Assert.False(string.IsNullOrEmpty(agent.Response.Name));
        Assert.Equal("", agent.Response.AgentSecret);
        var certificate = agent.Certificate;
        Assert.Equal($"CN={agent.HostId}", certificate.Subject);
        Assert.Contains($"URI:urn:odoofleet:host:{agent.HostId}", certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().Format(false), StringComparison.Ordinal);
        Assert.Equal([FleetCertificateAuthority.ClientAuthOid], certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<Oid>().Select(o => o.Value));
        Assert.Equal(X509KeyUsageFlags.DigitalSignature, certificate.Extensions.OfType<X509KeyUsageExtension>().Single().KeyUsages);
        Assert.Equal(16, certificate.SerialNumberBytes.Length);
        Assert.True(TestAgentEndpoint.ChainsTo(certificate, endpoint.Authority.CaCertificate));
        Assert.InRange(certificate.NotAfter.ToUniversalTime() - endpoint.Time.GetUtcNow().UtcDateTime, TimeSpan.FromDays(7) - TimeSpan.FromMinutes(1), TimeSpan.FromDays(7));

        var (client, channel) = endpoint.Client(certificate);
        using (channel)
        {
            var spec = await client.GetHostSpecAsync(new GetHostSpecRequest { HostId = agent.HostId }, cancellationToken: Ct);
            Assert.Equal(agent.HostId, spec.HostId);
        }
    }

    [Fact]
    public async Task Enroll_OverPlainHttp_FailedPreconditionAndTokenUnspent()
    {
        await using var endpoint = await StartAsync();
        var token = await endpoint.NewTokenAsync();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new EnrollRequest
        {
            Token = token,
            Name = "h" + Guid.NewGuid().ToString("N")[..12],
            Facts = new HostFacts { Hostname = "test" },
            Csr = ByteString.CopyFrom(TestAgentEndpoint.Csr(key)),
        };

        var (plain, plainChannel) = endpoint.Client(endpoint.HttpUrl, null);
        using (plainChannel)
        {
            var refused = await RefusedAsync(() => plain.EnrollAsync(request, cancellationToken: Ct).ResponseAsync);
            Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
            Assert.Contains("https://", refused.Status.Detail, StringComparison.Ordinal);
        }

        var (client, channel) = endpoint.Client(null);
        using (channel)
        {
            var response = await client.EnrollAsync(request, cancellationToken: Ct);
            endpoint.Track(response.HostId);
        }
    }

    [Fact]
    public async Task Enroll_CsrMissingOrInvalid_InvalidArgumentNamingCsrAndTokenUnspent()
    {
        await using var endpoint = await StartAsync();
        var token = await endpoint.NewTokenAsync();
        using var weak = RSA.Create(1024);
        var weakCsr = new CertificateRequest("CN=weak", weak, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1).CreateSigningRequest();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var tampered = TestAgentEndpoint.Csr(key, "CN=aaaaaaaa");
        var at = tampered.AsSpan().IndexOf("aaaaaaaa"u8);
        tampered[at] = (byte)'b';

        var (client, channel) = endpoint.Client(null);
        using (channel)
        {
            foreach (var csr in new[] { [], [0x30, 0x03, 0x02, 0x01, 0x00], weakCsr, tampered })
            {
                var refused = await RefusedAsync(() => client.EnrollAsync(new EnrollRequest
                {
                    Token = token,
                    Facts = new HostFacts { Hostname = "h" + Guid.NewGuid().ToString("N")[..12] },
                    Csr = ByteString.CopyFrom(csr),
                }, cancellationToken: Ct).ResponseAsync);
                Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
                Assert.StartsWith("csr: ", refused.Status.Detail, StringComparison.Ordinal);
                Assert.Contains("upgrade the agent", refused.Status.Detail, StringComparison.Ordinal);
            }

            var response = await client.EnrollAsync(new EnrollRequest
            {
                Token = token,
                Facts = new HostFacts { Hostname = "h" + Guid.NewGuid().ToString("N")[..12] },
                Csr = ByteString.CopyFrom(TestAgentEndpoint.Csr(key)),
            }, cancellationToken: Ct);
            endpoint.Track(response.HostId);
        }
    }

    [Fact]
    public async Task Call_WithoutClientCertificate_UnauthenticatedAndAudited()
    {
        await using var endpoint = await StartAsync();
        var before = (await AuditAsync("agent:unknown")).Count;

        var (client, channel) = endpoint.Client(null);
        using (channel)
        {
            var refused = await RefusedAsync(() => client.GetHostSpecAsync(new GetHostSpecRequest(), cancellationToken: Ct).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
            Assert.Contains("re-enroll the host with a new token", refused.Status.Detail, StringComparison.Ordinal);
        }

        var (plain, plainChannel) = endpoint.Client(endpoint.HttpUrl, null);
        using (plainChannel)
        {
            var refused = await RefusedAsync(() => plain.ReportConvergeAsync(new ConvergeReport { HostId = "h-aaaaaaaaaa" }, cancellationToken: Ct).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        }

        var rows = (await AuditAsync("agent:unknown")).Skip(before).ToList();
        Assert.Equal(2, rows.Count);
        Assert.Equal(("AgentService/GetHostSpec", "denied: no client certificate", "127.0.0.1"), (rows[0].Action, rows[0].Result, rows[0].Address));
        Assert.Equal(("AgentService/ReportConverge", "denied: plain http, no client certificate"), (rows[1].Action, rows[1].Result));
    }

    [Fact]
    public async Task Call_CertificateFromAnotherCaNamingARealHost_UnauthenticatedAndAudited()
    {
        await using var endpoint = await StartAsync();
        var victim = await endpoint.EnrollAsync(Ct);
        using var forged = ForgeCertificate(victim.HostId, endpoint.Time.GetUtcNow());

        var (client, channel) = endpoint.Client(forged);
        using (channel)
        {
            var refused = await RefusedAsync(() => client.GetHostSpecAsync(new GetHostSpecRequest { HostId = victim.HostId }, cancellationToken: Ct).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
            Assert.Equal("client certificate missing or not issued by this fleet; re-enroll the host with a new token (`fleet token create`, then `odoofleet-agent enroll`)", refused.Status.Detail);
        }

        var row = Assert.Single(await AuditAsync($"agent:{victim.HostId}"));
        Assert.Equal(("AgentService/GetHostSpec", victim.HostId, "denied: certificate not issued by this fleet's CA"), (row.Action, row.Target, row.Result));
    }

    [Fact]
    public async Task Call_HostRemoved_ItsValidCertificateRefusedAndAudited()
    {
        await using var endpoint = await StartAsync();
        var agent = await endpoint.EnrollAsync(Ct);
        var (client, channel) = endpoint.Client(agent.Certificate);
        using (channel)
        {
            await client.GetHostSpecAsync(new GetHostSpecRequest(), cancellationToken: Ct);
            await using (var delete = fixture.Database.DataSource.CreateCommand("DELETE FROM hosts WHERE id = $1"))
            {
                delete.Parameters.AddWithValue(agent.HostId);
                Assert.Equal(1, await delete.ExecuteNonQueryAsync(Ct));
            }

            var refused = await RefusedAsync(() => client.GetHostSpecAsync(new GetHostSpecRequest(), cancellationToken: Ct).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        }

        var row = Assert.Single(await AuditAsync($"agent:{agent.HostId}"));
        Assert.Equal(("AgentService/GetHostSpec", "denied: host removed from the fleet"), (row.Action, row.Result));
    }

    [Fact]
    public async Task Call_AboutAnotherHost_PermissionDeniedAndAudited()
    {
        await using var endpoint = await StartAsync();
        var a = await endpoint.EnrollAsync(Ct);
        var b = await endpoint.EnrollAsync(Ct);

        var (client, channel) = endpoint.Client(a.Certificate);
        using (channel)
        {
            var converge = await RefusedAsync(() => client.ReportConvergeAsync(new ConvergeReport { HostId = b.HostId, Generation = 1, Success = true }, cancellationToken: Ct).ResponseAsync);
            Assert.Equal(StatusCode.PermissionDenied, converge.StatusCode);
            var spec = await RefusedAsync(() => client.GetHostSpecAsync(new GetHostSpecRequest { HostId = b.HostId }, cancellationToken: Ct).ResponseAsync);
            Assert.Equal(StatusCode.PermissionDenied, spec.StatusCode);
        }

        var rows = await AuditAsync($"agent:{a.HostId}");
        Assert.Equal(
            [("AgentService/ReportConverge", b.HostId, "denied: host_id names another host"), ("AgentService/GetHostSpec", b.HostId, "denied: host_id names another host")],
            rows.Select(r => (r.Action, r.Target, r.Result)));
    }

    [Fact]
    public async Task Call_CertificateExpired_UnauthenticatedAndAudited()
    {
        await using var endpoint = await StartAsync();
        var agent = await endpoint.EnrollAsync(Ct);
        var (client, channel) = endpoint.Client(agent.Certificate);
        using (channel)
        {
            await client.GetHostSpecAsync(new GetHostSpecRequest(), cancellationToken: Ct);

            endpoint.Time.SetUtcNow(new DateTimeOffset(agent.Certificate.NotAfter.ToUniversalTime()).AddSeconds(1));
            var refused = await RefusedAsync(() => client.GetHostSpecAsync(new GetHostSpecRequest(), cancellationToken: Ct).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
            Assert.Contains("expired", refused.Status.Detail, StringComparison.Ordinal);
        }

        var row = Assert.Single(await AuditAsync($"agent:{agent.HostId}"));
        Assert.Equal("denied: certificate expired", row.Result);
    }

    [Fact]
    public async Task RenewCertificate_ValidCertificate_NewCertificateAndOldOneValidUntilItExpires()
    {
        await using var endpoint = await StartAsync();
        var agent = await endpoint.EnrollAsync(Ct);
        endpoint.Time.Advance(TimeSpan.FromDays(5));
        using var newKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var (oldClient, oldChannel) = endpoint.Client(agent.Certificate);
        using var oldChannelScope = oldChannel;
        var renewed = await oldClient.RenewCertificateAsync(new RenewCertificateRequest { Csr = ByteString.CopyFrom(TestAgentEndpoint.Csr(newKey)) }, cancellationToken: Ct);

        using var fresh = TestAgentEndpoint.WithKey(renewed.Identity.Certificate.ToByteArray(), newKey);
        Assert.Equal(agent.Certificate.Subject, fresh.Subject);
        Assert.NotEqual(agent.Certificate.SerialNumber, fresh.SerialNumber);
        Assert.Equal(endpoint.Authority.CaCertificate.RawData, renewed.Identity.CaCertificate.ToByteArray());
        Assert.True(fresh.NotAfter > agent.Certificate.NotAfter);
        var (newClient, newChannel) = endpoint.Client(fresh);
        using var newChannelScope = newChannel;
        Assert.Equal(agent.HostId, (await oldClient.GetHostSpecAsync(new GetHostSpecRequest(), cancellationToken: Ct)).HostId);
        Assert.Equal(agent.HostId, (await newClient.GetHostSpecAsync(new GetHostSpecRequest(), cancellationToken: Ct)).HostId);

        endpoint.Time.SetUtcNow(new DateTimeOffset(agent.Certificate.NotAfter.ToUniversalTime()).AddSeconds(1));
        var refused = await RefusedAsync(() => oldClient.GetHostSpecAsync(new GetHostSpecRequest(), cancellationToken: Ct).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        Assert.Equal(agent.HostId, (await newClient.GetHostSpecAsync(new GetHostSpecRequest(), cancellationToken: Ct)).HostId);

        Assert.Equal(
            [("AgentService/RenewCertificate", "ok"), ("AgentService/GetHostSpec", "denied: certificate expired")],
            (await AuditAsync($"agent:{agent.HostId}")).Select(r => (r.Action, r.Result)));
    }

    [Fact]
    public async Task Handshake_HttpsEndpoint_ServerCertificateFromFleetCaForLoopbackAndCaDownloadable()
    {
        await using var endpoint = await StartAsync();
        X509Certificate2? seen = null;
        using var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
        {
            seen = new X509Certificate2((X509Certificate2)certificate!);
            return TestAgentEndpoint.ChainsTo(seen, endpoint.Authority.CaCertificate);
        };
        using var http = new HttpClient(handler) { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };

        using var response = await http.GetAsync(new Uri(endpoint.HttpsUrl, FleetSecurityHosting.CaCertificatePath), Ct);

        Assert.Equal(HttpVersion.Version20, response.Version);
        var der = await response.Content.ReadAsByteArrayAsync(Ct);
        Assert.Equal(endpoint.Authority.CaSha256, Convert.ToHexStringLower(SHA256.HashData(der)));
        Assert.NotNull(seen);
        using (seen)
        {
            var names = seen.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
            Assert.Contains(IPAddress.Loopback, names.EnumerateIPAddresses());
            Assert.Contains("localhost", names.EnumerateDnsNames());
            Assert.Equal([FleetCertificateAuthority.ServerAuthOid], seen.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<Oid>().Select(o => o.Value));
        }
    }

    /// <summary>A certificate that looks like a fleet agent's in every way but its issuer.</summary>
    private static X509Certificate2 ForgeCertificate(string hostId, DateTimeOffset now)
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=OdooFleet fleet CA test-cluster", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        using var otherCa = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddYears(1));
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={hostId}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri(FleetCertificateAuthority.HostUri(hostId)));
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(FleetCertificateAuthority.ClientAuthOid)], false));
        using var leaf = request.Create(otherCa, now.AddMinutes(-5), now.AddDays(7), RandomNumberGenerator.GetBytes(16));
        return leaf.CopyWithPrivateKey(key);
    }
}
