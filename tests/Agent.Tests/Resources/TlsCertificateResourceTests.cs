using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

/// <summary>
/// Self-signed and local-CA certificates are issued for real (in-process crypto, files in a temp
/// root). ACME cannot reach a server here: certbot is replaced by a recorder that checks the exact
/// argument array and plays certbot's part by writing a lineage the way certbot lays it out.
/// </summary>
public sealed class TlsCertificateResourceTests
{
    private const string CertPath = "/etc/ssl/odoofleet/odoo.crt";
    private const string KeyPath = "/etc/ssl/odoofleet/odoo.key";
    private static readonly DateTimeOffset Start = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly TlsCertificateSpec SelfSigned = new(["erp.example.com", "www.erp.example.com"], CertPath, KeyPath);

    private static readonly TlsCertificateSpec Acme = SelfSigned with
    {
        Mode = TlsCertificateMode.Acme,
        AcmeEmail = "ops@example.com",
        AcmeWebroot = "/var/www/odoofleet-acme",
    };

    private sealed class Host : IDisposable
    {
        private readonly TempDirectory root = new();

        public Host()
        {
            Directory.CreateDirectory(root.Combine("etc", "ssl", "odoofleet"));
            Paths = new HostPaths(root.Path);
        }

        public HostPaths Paths { get; }

        public FakeTimeProvider Time { get; } = new(Start);

        public CertbotRecorder Certbot { get; } = new();

        public string Full(string path) => Paths.Resolve(path);

        public TlsCertificateResource Resource(TlsCertificateSpec spec, Ownership? ownership = null) =>
            new(Paths, Certbot, Time, spec, ownership);

        public async Task<ResourceResult> ConvergeAsync(TlsCertificateSpec spec, ConvergeMode mode = ConvergeMode.Apply, Ownership? ownership = null) =>
            (await new ConvergeEngine(Time, NullLogger<ConvergeEngine>.Instance).RunAsync([Resource(spec, ownership)], mode, Ct)).Results[0];

        public async Task<TlsCertificateResource.Observed> ObserveAsync(TlsCertificateSpec spec) =>
            (TlsCertificateResource.Observed)await Resource(spec).ObserveAsync(Ct);

        public X509Certificate2 Served() => X509Certificate2.CreateFromPemFile(Full(CertPath), Full(KeyPath));

        /// <summary>Writes a lineage as certbot does: archive/NAME/fullchainN.pem, live/NAME/* relative symlinks.</summary>
        public void WriteLineage(string certName, IReadOnlyList<string> names, DateTimeOffset notBefore, DateTimeOffset notAfter)
        {
            var archive = root.Combine("etc", "letsencrypt", "archive", certName);
            var live = root.Combine("etc", "letsencrypt", "live", certName);
            Directory.CreateDirectory(archive);
            Directory.CreateDirectory(live);
            var version = Directory.GetFiles(archive, "fullchain*.pem").Length + 1;
            var (cert, key) = Pem(names, notBefore, notAfter);
            File.WriteAllText(Path.Combine(archive, $"fullchain{version}.pem"), cert + IntermediatePem);
            File.WriteAllText(Path.Combine(archive, $"privkey{version}.pem"), key);
            foreach (var file in new[] { "fullchain", "privkey" })
            {
                var link = Path.Combine(live, $"{file}.pem");
                File.Delete(link);
                File.CreateSymbolicLink(link, $"../../archive/{certName}/{file}{version}.pem");
            }
        }

        public void Dispose() => root.Dispose();
    }

    /// <summary>Stands in for certbot only; anything else would be a bug in these tests.</summary>
    private sealed class CertbotRecorder : ICommandRunner
    {
        public List<IReadOnlyList<string>> Calls { get; } = [];

        public Func<CommandResult> OnCertbot { get; set; } = () => new CommandResult(1, "", "no ACME server in tests", false);

        public Task<CommandResult> RunAsync(CommandSpec spec, CancellationToken ct)
        {
            Assert.Equal("certbot", spec.Program);
            Calls.Add(spec.Arguments);
            return Task.FromResult(OnCertbot());
        }
    }

    private static readonly string IntermediatePem = Pem(["intermediate.example.net"], Start, Start.AddYears(3)).Certificate;

    private static (string Certificate, string Key) Pem(IReadOnlyList<string> names, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={names[0]}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in names)
        {
            san.AddDnsName(name);
        }

        request.CertificateExtensions.Add(san.Build());
        using var certificate = request.CreateSelfSigned(notBefore, notAfter);
        return (certificate.ExportCertificatePem() + "\n", key.ExportPkcs8PrivateKeyPem() + "\n");
    }

    private static string[] DnsNames(X509Certificate2 certificate) =>
        [.. certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().EnumerateDnsNames()];

    [Fact]
    public async Task Apply_NoPair_IssuesEcdsaP256ForAllNamesWithKey0600AndCert0644()
    {
        using var host = new Host();

        var result = await host.ConvergeAsync(SelfSigned);

        Assert.Equal(ResourceStatus.Changed, result.Status);
        using var served = host.Served();
        Assert.Equal(["erp.example.com", "www.erp.example.com"], DnsNames(served));
        Assert.Equal("erp.example.com", served.GetNameInfo(X509NameType.SimpleName, forIssuer: false));
        Assert.Equal(served.SubjectName.Name, served.IssuerName.Name);
        Assert.Contains(served.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<Oid>(), oid => oid.Value == "1.3.6.1.5.5.7.3.1");
        using var publicKey = served.GetECDsaPublicKey();
        Assert.Equal(256, publicKey!.KeySize);
        Assert.Equal((Start + TimeSpan.FromDays(90)).UtcDateTime, served.NotAfter.ToUniversalTime(), TimeSpan.FromSeconds(1));
        Assert.Equal(FileModes.Mode0600, File.GetUnixFileMode(host.Full(KeyPath)));
        Assert.Equal(FileModes.Mode0644, File.GetUnixFileMode(host.Full(CertPath)));
        Assert.Equal((Start + TimeSpan.FromDays(90)).UtcDateTime, (await host.ObserveAsync(SelfSigned)).NotAfter!.Value.UtcDateTime, TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Apply_SecondRun_Unchanged()
    {
        using var host = new Host();
        await host.ConvergeAsync(SelfSigned);
        var before = await File.ReadAllBytesAsync(host.Full(CertPath), Ct);

        var second = await host.ConvergeAsync(SelfSigned);

        Assert.Equal(ResourceStatus.Unchanged, second.Status);
        Assert.Equal(before, await File.ReadAllBytesAsync(host.Full(CertPath), Ct));
    }

    [Theory]
    [InlineData(59, false)]
    [InlineData(61, true)]
    public async Task Apply_TimePasses_RenewsOnlyWithFewerThan30DaysLeft(int days, bool renewed)
    {
        using var host = new Host();
        await host.ConvergeAsync(SelfSigned);
        host.Time.Advance(TimeSpan.FromDays(days));

        var result = await host.ConvergeAsync(SelfSigned);

        Assert.Equal(renewed ? ResourceStatus.Changed : ResourceStatus.Unchanged, result.Status);
        var expected = renewed ? Start + TimeSpan.FromDays(days + 90) : Start + TimeSpan.FromDays(90);
        Assert.Equal(expected.UtcDateTime, (await host.ObserveAsync(SelfSigned)).NotAfter!.Value.UtcDateTime, TimeSpan.FromSeconds(1));
        if (renewed)
        {
            Assert.Contains("fewer than 30 days", result.Message, StringComparison.Ordinal);
            Assert.True(File.Exists(host.Full(CertPath + ".previous")));
            Assert.True(File.Exists(host.Full(KeyPath + ".previous")));
            Assert.Equal(FileModes.Mode0600, File.GetUnixFileMode(host.Full(KeyPath + ".previous")));
        }
    }

    [Fact]
    public async Task Apply_NamesChanged_Reissues()
    {
        using var host = new Host();
        await host.ConvergeAsync(SelfSigned);
        var spec = SelfSigned with { Names = ["erp.example.com", "www.erp.example.com", "erp.example.org"] };

        var result = await host.ConvergeAsync(spec);

        Assert.Equal(ResourceStatus.Changed, result.Status);
        Assert.Contains("it names erp.example.com, www.erp.example.com", result.Message, StringComparison.Ordinal);
        using var served = host.Served();
        Assert.Equal(["erp.example.com", "www.erp.example.com", "erp.example.org"], DnsNames(served));
    }

    [Fact]
    public async Task Apply_PrimaryChangedSameNames_ReissuesForTheNewCommonName()
    {
        using var host = new Host();
        await host.ConvergeAsync(SelfSigned);

        var result = await host.ConvergeAsync(SelfSigned with { Names = ["www.erp.example.com", "erp.example.com"] });

        Assert.Contains("its CN is erp.example.com", result.Message, StringComparison.Ordinal);
        using var served = host.Served();
        Assert.Equal("www.erp.example.com", served.GetNameInfo(X509NameType.SimpleName, forIssuer: false));
    }

    [Theory]
    [InlineData(CertPath, "is not a PEM certificate")]
    [InlineData(KeyPath, "is not an unencrypted PEM EC or RSA private key")]
    public async Task Apply_CorruptedFile_Reissues(string corrupted, string reason)
    {
        using var host = new Host();
        await host.ConvergeAsync(SelfSigned);
        await File.WriteAllTextAsync(host.Full(corrupted), "-----BEGIN GARBAGE-----\nnot base64\n", Ct);

        var result = await host.ConvergeAsync(SelfSigned);

        Assert.Equal(ResourceStatus.Changed, result.Status);
        Assert.Contains(reason, result.Message, StringComparison.Ordinal);
        Assert.Equal(ResourceStatus.Unchanged, (await host.ConvergeAsync(SelfSigned)).Status);
    }

    [Fact]
    public async Task Observe_KeyOfAnotherPair_DetectsMismatchAndApplyRepairs()
    {
        using var host = new Host();
        await host.ConvergeAsync(SelfSigned);
        await File.WriteAllTextAsync(host.Full(KeyPath), Pem(["erp.example.com"], Start, Start.AddDays(90)).Key, Ct);

        var observed = await host.ObserveAsync(SelfSigned);
        var result = await host.ConvergeAsync(SelfSigned);

        Assert.Equal($"{KeyPath} does not match {CertPath}", observed.Served.Problem);
        Assert.Contains("does not match", result.Message, StringComparison.Ordinal);
        Assert.Null((await host.ObserveAsync(SelfSigned)).Served.Problem);
    }

    [Fact]
    public async Task CheckMode_NoPair_DescribesWithoutKeyMaterialAndWritesNothing()
    {
        using var host = new Host();

        var result = await host.ConvergeAsync(SelfSigned, ConvergeMode.Check);

        Assert.Equal(ResourceStatus.Changed, result.Status);
        Assert.StartsWith("would issue a self-signed certificate for erp.example.com, www.erp.example.com", result.Message, StringComparison.Ordinal);
        Assert.Contains("new private key (secret, not shown)", result.Detail, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(host.Full("/etc/ssl/odoofleet")));
    }

    [Fact]
    public async Task CheckMode_Renewal_ShowsNoKeyMaterialAndKeepsFiles()
    {
        using var host = new Host();
        await host.ConvergeAsync(SelfSigned);
        var key = await File.ReadAllTextAsync(host.Full(KeyPath), Ct);
        host.Time.Advance(TimeSpan.FromDays(80));

        var result = await host.ConvergeAsync(SelfSigned, ConvergeMode.Check);

        Assert.DoesNotContain("PRIVATE KEY", result.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(key.Split('\n')[1], result.Detail + result.Message, StringComparison.Ordinal);
        Assert.Equal(key, await File.ReadAllTextAsync(host.Full(KeyPath), Ct));
        Assert.False(File.Exists(host.Full(KeyPath + ".previous")));
    }

    [Fact]
    public async Task Apply_OnlyModeDrifted_FixesModeKeepingThePair()
    {
        using var host = new Host();
        await host.ConvergeAsync(SelfSigned);
        var cert = await File.ReadAllBytesAsync(host.Full(CertPath), Ct);
        File.SetUnixFileMode(host.Full(KeyPath), FileModes.Mode0644);

        var result = await host.ConvergeAsync(SelfSigned);

        Assert.Equal($"fix {KeyPath} mode 0644 -> 0600", result.Message);
        Assert.Equal(FileModes.Mode0600, File.GetUnixFileMode(host.Full(KeyPath)));
        Assert.Equal(cert, await File.ReadAllBytesAsync(host.Full(CertPath), Ct));
    }

    [Fact]
    public async Task Apply_WithOwnership_BothFilesOwnedByRoot()
    {
        Assert.SkipUnless(Environment.UserName == "root", "chown to root needs root");
        using var host = new Host();
        var root = new Ownership("root", "root");
        var runner = new ProcessCommandRunner();
        var resource = new TlsCertificateResource(host.Paths, runner, host.Time, SelfSigned, root);
        var engine = new ConvergeEngine(host.Time, NullLogger<ConvergeEngine>.Instance);

        var first = await engine.RunAsync([resource], ConvergeMode.Apply, Ct);
        var second = await engine.RunAsync([resource], ConvergeMode.Apply, Ct);

        Assert.Equal(ResourceStatus.Changed, first.Results[0].Status);
        Assert.Equal(ResourceStatus.Unchanged, second.Results[0].Status);
        Assert.Equal(root, await Ownership.ReadAsync(runner, host.Full(KeyPath), Ct));
    }

    [Fact]
    public async Task Apply_LocalCa_SignsWithTheCaAndSwitchingBackReissuesSelfSigned()
    {
        using var host = new Host();
        using (var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP384))
        {
            var request = new CertificateRequest("CN=OdooFleet Test CA", caKey, HashAlgorithmName.SHA384);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
            using var ca = request.CreateSelfSigned(Start.AddDays(-1), Start.AddYears(5));
            await File.WriteAllTextAsync(host.Full("/etc/ssl/odoofleet/ca.crt"), ca.ExportCertificatePem(), Ct);
            await File.WriteAllTextAsync(host.Full("/etc/ssl/odoofleet/ca.key"), caKey.ExportPkcs8PrivateKeyPem(), Ct);
        }

        var withCa = SelfSigned with { CaCertificatePath = "/etc/ssl/odoofleet/ca.crt", CaKeyPath = "/etc/ssl/odoofleet/ca.key" };

        var first = await host.ConvergeAsync(withCa);
        var second = await host.ConvergeAsync(withCa);

        Assert.StartsWith("issued a certificate", first.Message, StringComparison.Ordinal);
        Assert.Equal(ResourceStatus.Unchanged, second.Status);
        using (var served = host.Served())
        {
            Assert.Equal("CN=OdooFleet Test CA", served.IssuerName.Name);
        }

        var back = await host.ConvergeAsync(SelfSigned);
        Assert.Contains("it is not self-signed", back.Message, StringComparison.Ordinal);
        using (var served = host.Served())
        {
            Assert.Equal(served.SubjectName.Name, served.IssuerName.Name);
        }

        var again = await host.ConvergeAsync(withCa);
        Assert.Contains("it is not signed by /etc/ssl/odoofleet/ca.crt", again.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Apply_LocalCaMissing_FailsSayingWhich()
    {
        using var host = new Host();
        var result = await host.ConvergeAsync(SelfSigned with { CaCertificatePath = "/etc/ssl/odoofleet/none.crt", CaKeyPath = "/etc/ssl/odoofleet/none.key" });
        Assert.Equal(ResourceStatus.Failed, result.Status);
        Assert.Contains("cannot read the local CA certificate /etc/ssl/odoofleet/none.crt", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Certbot_AcmeSpec_ExactArgumentArray()
    {
        using var host = new Host();
        var command = host.Resource(Acme).Certbot();
        Assert.Equal("certbot", command.Program);
        Assert.Equal(
            [
                "certonly", "--webroot", "-w", "/var/www/odoofleet-acme", "--non-interactive", "--agree-tos", "-m", "ops@example.com",
                "--cert-name", "erp.example.com", "--keep-until-expiring", "-d", "erp.example.com", "-d", "www.erp.example.com",
            ],
            command.Arguments);
    }

    [Fact]
    public async Task Apply_AcmeFirstRunCertbotFails_WritesPlaceholderSoNginxCanStart()
    {
        using var host = new Host();

        var result = await host.ConvergeAsync(Acme);

        Assert.Equal(ResourceStatus.Changed, result.Status);
        Assert.Contains("wrote a self-signed placeholder", result.Message, StringComparison.Ordinal);
        Assert.Contains("no ACME server in tests", result.Message, StringComparison.Ordinal);
        Assert.Single(host.Certbot.Calls);
        using var served = host.Served();
        Assert.Equal(["erp.example.com", "www.erp.example.com"], DnsNames(served));
    }

    [Fact]
    public async Task Apply_AcmeCertbotSucceeds_InstallsLineageThenUnchanged()
    {
        using var host = new Host();
        host.Certbot.OnCertbot = () =>
        {
            host.WriteLineage("erp.example.com", Acme.Names, host.Time.GetUtcNow(), host.Time.GetUtcNow().AddDays(90));
            return new CommandResult(0, "", "", false);
        };

        var first = await host.ConvergeAsync(Acme);
        var second = await host.ConvergeAsync(Acme);

        Assert.StartsWith("certbot: installed the Let's Encrypt certificate", first.Message, StringComparison.Ordinal);
        Assert.Equal(ResourceStatus.Unchanged, second.Status);
        Assert.Single(host.Certbot.Calls);
        Assert.Equal(
            await File.ReadAllBytesAsync(host.Full("/etc/letsencrypt/live/erp.example.com/fullchain.pem"), Ct),
            await File.ReadAllBytesAsync(host.Full(CertPath), Ct));
        Assert.Equal(
            await File.ReadAllBytesAsync(host.Full("/etc/letsencrypt/live/erp.example.com/privkey.pem"), Ct),
            await File.ReadAllBytesAsync(host.Full(KeyPath), Ct));
        Assert.Equal(FileModes.Mode0600, File.GetUnixFileMode(host.Full(KeyPath)));
    }

    [Fact]
    public async Task Apply_AcmeAfter61Days_RunsCertbotAgainAndInstallsTheRenewal()
    {
        using var host = new Host();
        host.Certbot.OnCertbot = () =>
        {
            host.WriteLineage("erp.example.com", Acme.Names, host.Time.GetUtcNow(), host.Time.GetUtcNow().AddDays(90));
            return new CommandResult(0, "", "", false);
        };
        await host.ConvergeAsync(Acme);
        host.Time.Advance(TimeSpan.FromDays(61));

        var result = await host.ConvergeAsync(Acme);

        Assert.Equal(2, host.Certbot.Calls.Count);
        Assert.Equal(ResourceStatus.Changed, result.Status);
        Assert.Equal((Start + TimeSpan.FromDays(151)).UtcDateTime, (await host.ObserveAsync(Acme)).NotAfter!.Value.UtcDateTime, TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Apply_AcmeNamesChanged_RunsCertbotWithTheNewNames()
    {
        using var host = new Host();
        host.WriteLineage("erp.example.com", Acme.Names, Start, Start.AddDays(90));
        await host.ConvergeAsync(Acme);
        Assert.Empty(host.Certbot.Calls);
        var spec = Acme with { Names = ["erp.example.com", "erp.example.org"] };
        host.Certbot.OnCertbot = () =>
        {
            host.WriteLineage("erp.example.com", spec.Names, host.Time.GetUtcNow(), host.Time.GetUtcNow().AddDays(90));
            return new CommandResult(0, "", "", false);
        };

        var result = await host.ConvergeAsync(spec);

        Assert.Equal(ResourceStatus.Changed, result.Status);
        Assert.Equal(["-d", "erp.example.com", "-d", "erp.example.org"], host.Certbot.Calls.Single().TakeLast(4));
        using var served = host.Served();
        Assert.Equal(["erp.example.com", "erp.example.org"], DnsNames(served));
    }

    [Fact]
    public async Task Apply_LineageRenewedByCertbotTimer_CopiedWithoutRunningCertbot()
    {
        using var host = new Host();
        host.WriteLineage("erp.example.com", Acme.Names, Start, Start.AddDays(90));
        await host.ConvergeAsync(Acme);
        host.Time.Advance(TimeSpan.FromDays(62));
        host.WriteLineage("erp.example.com", Acme.Names, host.Time.GetUtcNow(), host.Time.GetUtcNow().AddDays(90));

        var result = await host.ConvergeAsync(Acme);

        Assert.StartsWith("installed the Let's Encrypt certificate", result.Message, StringComparison.Ordinal);
        Assert.Empty(host.Certbot.Calls);
    }

    [Fact]
    public async Task Apply_AcmeRenewalFails_FailsAndKeepsServingTheCurrentPair()
    {
        using var host = new Host();
        host.WriteLineage("erp.example.com", Acme.Names, Start, Start.AddDays(90));
        await host.ConvergeAsync(Acme);
        var before = await File.ReadAllBytesAsync(host.Full(CertPath), Ct);
        host.Time.Advance(TimeSpan.FromDays(65));

        var result = await host.ConvergeAsync(Acme);

        Assert.Equal(ResourceStatus.Failed, result.Status);
        Assert.Contains("certbot failed; nginx keeps serving the current certificate", result.Message, StringComparison.Ordinal);
        Assert.Equal(before, await File.ReadAllBytesAsync(host.Full(CertPath), Ct));
    }

    [Fact]
    public async Task Apply_CertbotSucceedsWithoutTheNames_Fails()
    {
        using var host = new Host();
        host.Certbot.OnCertbot = () =>
        {
            host.WriteLineage("erp.example.com", ["erp.example.com"], Start, Start.AddDays(90));
            return new CommandResult(0, "", "", false);
        };

        var result = await host.ConvergeAsync(Acme);

        Assert.Equal(ResourceStatus.Failed, result.Status);
        Assert.Contains("is not usable (it names erp.example.com)", result.Message, StringComparison.Ordinal);
    }

    private static readonly Dictionary<string, TlsCertificateSpec> InvalidCases = new()
    {
        { "tls.names: 0 names", SelfSigned with { Names = [] } },
        { "tls.names[0]: 'Erp.example.com' is not a lowercase DNS name", SelfSigned with { Names = ["Erp.example.com"] } },
        { "tls.names[1]: 'erp.example.com' is listed twice", SelfSigned with { Names = ["erp.example.com", "erp.example.com"] } },
        { "a name without dots needs tls.allow_single_label_names", SelfSigned with { Names = ["odoo1"] } },
        { "Let's Encrypt only certifies public DNS names", Acme with { Names = ["odoo1"], AllowSingleLabelNames = true } },
        { "tls.names[0]: 'erp.example.com?server_name evil' is not", SelfSigned with { Names = ["erp.example.com\nserver_name evil"] } },
        { "tls.key_path: equals tls.certificate_path", SelfSigned with { KeyPath = CertPath } },
        { "tls.certificate_path: /etc/letsencrypt/live/x/fullchain.pem is inside certbot's directory", SelfSigned with { CertificatePath = "/etc/letsencrypt/live/x/fullchain.pem" } },
        { "tls.key_path: 'key.pem' must be an absolute path", SelfSigned with { KeyPath = "key.pem" } },
        { "tls.acme_email: '-oops@example.com' is not an e-mail address", Acme with { AcmeEmail = "-oops@example.com" } },
        { "tls.acme_email: 'ops@example.com --staging' is not", Acme with { AcmeEmail = "ops@example.com --staging" } },
        { "tls.acme_email: '' is not an e-mail address", Acme with { AcmeEmail = null } },
        { "tls.acme_webroot: missing", Acme with { AcmeWebroot = null } },
        { "tls.acme_webroot: '/var/www/$x' must be", Acme with { AcmeWebroot = "/var/www/$x" } },
        { "tls.ca_certificate_path: a local CA only signs in self-signed mode", Acme with { CaCertificatePath = "/etc/ssl/ca.crt", CaKeyPath = "/etc/ssl/ca.key" } },
        { "tls.ca_key_path: a local CA needs both", SelfSigned with { CaCertificatePath = "/etc/ssl/ca.crt" } },
        { "tls.acme_email: ACME settings only apply in acme mode", SelfSigned with { AcmeEmail = "ops@example.com" } },
    };

    public static TheoryData<string> InvalidSpecs => [.. InvalidCases.Keys];

    [Theory]
    [MemberData(nameof(InvalidSpecs))]
    public void Constructor_InvalidSpec_ThrowsNamingFieldAndRule(string expected)
    {
        using var host = new Host();
        var error = Assert.Throws<SpecValidationException>(() => host.Resource(InvalidCases[expected]));
        Assert.Contains(error.Errors, e => e.Contains(expected, StringComparison.Ordinal));
    }
}
