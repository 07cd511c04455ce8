using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Controller.Hosting;
using OdooFleet.Controller.Secrets;
using OdooFleet.Controller.Security;
using OdooFleet.Controller.Tests.Persistence;
using Xunit;

namespace OdooFleet.Controller.Tests.Security;

/// <summary>The fleet CA on a real PostgreSQL: made once per fleet, imported on request, and strict about what it signs.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class FleetCertificateAuthorityTests : IAsyncLifetime
{
    private static readonly SecretKey Key = new(RandomNumberGenerator.GetBytes(32));

    private readonly FakeTimeProvider time = new(DateTimeOffset.UtcNow);
    private readonly string directory = Directory.CreateTempSubdirectory("of-ca-test-").FullName;
    private TestDatabase? database;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private TestDatabase Database => database ?? throw new InvalidOperationException("not initialised");

    public async ValueTask InitializeAsync() => database = await TestDatabase.CreateAsync(migrate: true);

    public async ValueTask DisposeAsync()
    {
        Directory.Delete(directory, recursive: true);
        if (database is not null)
        {
            await database.DisposeAsync();
        }
    }

    /// <summary>A CA as one controller process has it: its own connection pool and secret store.</summary>
    private FleetCertificateAuthority Authority(SecurityOptions? options = null) =>
        new(
            new SecretStore(Database.CreateDataSource(), new SecretKeyRing(Key, []), time, NullLogger<SecretStore>.Instance),
            Options.Create(options ?? new SecurityOptions()),
            Options.Create(new ClusterSettings { ClusterId = "prod-eu" }),
            time,
            NullLogger<FleetCertificateAuthority>.Instance);

    [Fact]
    public async Task InitializeAsync_TwoControllersStartTogether_BothUseOneStoredCa()
    {
        using var first = Authority();
        using var second = Authority();

        await Task.WhenAll(first.InitializeAsync(Ct), second.InitializeAsync(Ct));
        using var third = Authority();
        await third.InitializeAsync(Ct);

        Assert.Equal(first.CaSha256, second.CaSha256);
        Assert.Equal(first.CaSha256, third.CaSha256);
        Assert.Matches("^[0-9a-f]{64}$", first.CaSha256);
        await using var count = Database.DataSource.CreateCommand("SELECT count(*) FROM secrets WHERE name LIKE 'pki/%'");
        Assert.Equal(1L, await count.ExecuteScalarAsync(Ct));

        var ca = first.CaCertificate;
        Assert.Equal("CN=OdooFleet fleet CA prod-eu", ca.Subject);
        Assert.Equal(ca.Subject, ca.Issuer);
        var constraints = ca.Extensions.OfType<X509BasicConstraintsExtension>().Single();
        Assert.True(constraints is { Critical: true, CertificateAuthority: true, HasPathLengthConstraint: true, PathLengthConstraint: 0 });
        var usage = ca.Extensions.OfType<X509KeyUsageExtension>().Single();
        Assert.True(usage.Critical);
        Assert.Equal(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, usage.KeyUsages);
        Assert.Single(ca.Extensions.OfType<X509SubjectKeyIdentifierExtension>());
        Assert.InRange(ca.NotAfter.ToUniversalTime() - time.GetUtcNow().UtcDateTime, TimeSpan.FromDays(3650), TimeSpan.FromDays(3653));
        using var publicKey = ca.GetECDsaPublicKey();
        Assert.Equal(256, publicKey!.KeySize);

        // A certificate one controller issues is trusted through the CA the other loaded.
        using var agentKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var issued = second.IssueClientCertificate("h-3kq9t2mzpa", TestAgentEndpoint.Csr(agentKey));
        using var certificate = X509CertificateLoader.LoadCertificate(issued.Der);
        Assert.True(TestAgentEndpoint.ChainsTo(certificate, first.CaCertificate));
    }

    [Fact]
    public async Task InitializeAsync_OperatorCa_ImportedAndSignsAgentCertificates()
    {
        var (certificateFile, keyFile, sha256) = WriteOperatorCa("operator");
        using var authority = Authority(new SecurityOptions { CaCertificateFile = certificateFile, CaKeyFile = keyFile });

        await authority.InitializeAsync(Ct);
        using var reloaded = Authority();
        await reloaded.InitializeAsync(Ct);

        Assert.Equal(sha256, authority.CaSha256);
        Assert.Equal(sha256, reloaded.CaSha256);
        using var agentKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var certificate = X509CertificateLoader.LoadCertificate(reloaded.IssueClientCertificate("h-3kq9t2mzpa", TestAgentEndpoint.Csr(agentKey)).Der);
        Assert.True(TestAgentEndpoint.ChainsTo(certificate, authority.CaCertificate));
    }

    [Fact]
    public async Task InitializeAsync_OperatorCaDiffersFromStoredCa_RefusedNamingTheSettings()
    {
        using (var made = Authority())
        {
            await made.InitializeAsync(Ct);
        }

        var (certificateFile, keyFile, _) = WriteOperatorCa("late");
        using var authority = Authority(new SecurityOptions { CaCertificateFile = certificateFile, CaKeyFile = keyFile });

        var refused = await Assert.ThrowsAsync<FleetCaException>(() => authority.InitializeAsync(Ct));

        Assert.Contains("Security:CaCertificateFile", refused.Message, StringComparison.Ordinal);
        Assert.Contains("already has another CA", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InitializeAsync_OperatorCaKeyReadableByOthers_Refused()
    {
        var (certificateFile, keyFile, _) = WriteOperatorCa("loose");
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        using var authority = Authority(new SecurityOptions { CaCertificateFile = certificateFile, CaKeyFile = keyFile });

        var refused = await Assert.ThrowsAsync<FleetCaException>(() => authority.InitializeAsync(Ct));

        Assert.Contains("chmod 0600", refused.Message, StringComparison.Ordinal);
        await using var count = Database.DataSource.CreateCommand("SELECT count(*) FROM secrets");
        Assert.Equal(0L, await count.ExecuteScalarAsync(Ct));
    }

    [Fact]
    public async Task IssueClientCertificate_CsrAsksForMore_OnlyItsPublicKeyIsUsed()
    {
        using var authority = Authority(new SecurityOptions { AgentCertificateLifetime = TimeSpan.FromHours(2) });
        await authority.InitializeAsync(Ct);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var greedy = new CertificateRequest("CN=controller, O=evil", key, HashAlgorithmName.SHA384);
        greedy.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        greedy.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(FleetCertificateAuthority.ServerAuthOid)], false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri("urn:odoofleet:host:h-aaaaaaaaaa"));
        san.AddDnsName("controller.example.com");
        greedy.CertificateExtensions.Add(san.Build());

        var issued = authority.IssueClientCertificate("h-3kq9t2mzpa", greedy.CreateSigningRequest());

        using var certificate = X509CertificateLoader.LoadCertificate(issued.Der);
        Assert.Equal("CN=h-3kq9t2mzpa", certificate.Subject);
        Assert.False(certificate.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        Assert.Equal([FleetCertificateAuthority.ClientAuthOid], certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<Oid>().Select(o => o.Value));
        var names = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Empty(names.EnumerateDnsNames());
        Assert.Equal("URI:urn:odoofleet:host:h-3kq9t2mzpa", names.Format(false));
        Assert.Equal(
            authority.CaCertificate.Extensions.OfType<X509SubjectKeyIdentifierExtension>().Single().SubjectKeyIdentifierBytes.ToArray(),
            certificate.Extensions.OfType<X509AuthorityKeyIdentifierExtension>().Single().KeyIdentifier!.Value.ToArray());
        Assert.Equal(key.ExportSubjectPublicKeyInfo(), certificate.PublicKey.ExportSubjectPublicKeyInfo());
        Assert.Equal(FleetCertificateAuthority.SerialOf(certificate), issued.Record.Serial);
        Assert.Equal(time.GetUtcNow().AddHours(2).ToUnixTimeSeconds(), issued.Record.NotAfter.ToUnixTimeSeconds());
        Assert.Equal(time.GetUtcNow().AddMinutes(-5).ToUnixTimeSeconds(), new DateTimeOffset(certificate.NotBefore.ToUniversalTime()).ToUnixTimeSeconds());
    }

    [Fact]
    public async Task IssueClientCertificate_UnacceptableKeys_RefusedWithTheRule()
    {
        using var authority = Authority();
        await authority.InitializeAsync(Ct);
        using var p521 = ECDsa.Create(ECCurve.NamedCurves.nistP521);
        using var rsa1024 = RSA.Create(1024);
        using var rsa2048 = RSA.Create(2048);

        var p521Refusal = Assert.Throws<CertificateRequestException>(() => authority.IssueClientCertificate("h-3kq9t2mzpa", TestAgentEndpoint.Csr(p521)));
        var rsaRefusal = Assert.Throws<CertificateRequestException>(() => authority.IssueClientCertificate(
            "h-3kq9t2mzpa", new CertificateRequest("CN=x", rsa1024, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1).CreateSigningRequest()));
        var rsaAccepted = authority.IssueClientCertificate(
            "h-3kq9t2mzpa", new CertificateRequest("CN=x", rsa2048, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1).CreateSigningRequest());

        Assert.Contains("use P-256", p521Refusal.Message, StringComparison.Ordinal);
        Assert.Contains("RSA key of 1024 bits is not accepted", rsaRefusal.Message, StringComparison.Ordinal);
        Assert.Equal(32, rsaAccepted.Record.Serial.Length);
    }

    [Fact]
    public async Task ServerCertificate_LessThanAThirdOfItsLifeLeft_RenewedInMemory()
    {
        using var authority = Authority();
        await authority.InitializeAsync(Ct);
        var fleet = new FleetOptions { AgentEndpoints = ["https://10.1.2.3:7001", "https://controller.example.com:7002"] };
        var provider = new ServerCertificateProvider(
            authority, Options.Create(new SecurityOptions()), Options.Create(fleet), time, NullLogger<ServerCertificateProvider>.Instance);

        var first = provider.Current();
        time.Advance(ServerCertificateProvider.Lifetime * 2 / 3 - TimeSpan.FromMinutes(10));
        var same = provider.Current();
        time.Advance(TimeSpan.FromMinutes(10));
        var renewed = provider.Current();

        Assert.Same(first, same);
        Assert.NotSame(first, renewed);
        Assert.True(renewed.TargetCertificate.NotAfter > first.TargetCertificate.NotAfter);
        Assert.True(TestAgentEndpoint.ChainsTo(renewed.TargetCertificate, authority.CaCertificate, time.GetUtcNow()));
        Assert.Equal(["10.1.2.3", "controller.example.com", "localhost", "127.0.0.1", "::1"], provider.Names);
        var names = renewed.TargetCertificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Equal(["controller.example.com", "localhost"], names.EnumerateDnsNames());
        Assert.Equal(["10.1.2.3", "127.0.0.1", "::1"], names.EnumerateIPAddresses().Select(a => a.ToString()));
    }

    [Fact]
    public void ResolveNames_ServerNamesConfigured_OnlyThose()
    {
        var names = ServerCertificateProvider.ResolveNames(
            new SecurityOptions { ServerNames = ["fleet.example.com", "10.0.0.5", "FLEET.example.com"] },
            new FleetOptions { AgentEndpoints = ["https://10.1.2.3:7001"] });

        Assert.Equal(["fleet.example.com", "10.0.0.5"], names);
    }

    /// <summary>An operator's CA as PEM files (key mode 0600); returns the paths and the certificate's SHA-256.</summary>
    private (string CertificateFile, string KeyFile, string Sha256) WriteOperatorCa(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var request = new CertificateRequest($"CN=Operator CA {name}", key, HashAlgorithmName.SHA384);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using var certificate = request.CreateSelfSigned(time.GetUtcNow().AddDays(-1), time.GetUtcNow().AddYears(5));
        var certificateFile = Path.Combine(directory, name + ".crt");
        var keyFile = Path.Combine(directory, name + ".key");
        File.WriteAllText(certificateFile, certificate.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return (certificateFile, keyFile, Convert.ToHexStringLower(SHA256.HashData(certificate.RawData)));
    }
}
