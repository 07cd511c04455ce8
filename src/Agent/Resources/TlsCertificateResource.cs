using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.IO;
using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Resources;

internal enum TlsCertificateMode
{
    /// <summary>Generated in-process: self-signed, or signed by a local CA when one is given.</summary>
    SelfSigned,

    /// <summary>Let's Encrypt through certbot's webroot plugin (port 80 must reach nginx).</summary>
    Acme,
}

/// <summary>
/// The certificate and key nginx serves for <see cref="Names"/> (the first is the primary, the
/// certificate's CN). Both modes write the served pair at <see cref="CertificatePath"/> and
/// <see cref="KeyPath"/>; in ACME mode certbot's lineage is the source that is copied there.
/// </summary>
internal sealed record TlsCertificateSpec(IReadOnlyList<string> Names, string CertificatePath, string KeyPath)
{
    public TlsCertificateMode Mode { get; init; } = TlsCertificateMode.SelfSigned;

    /// <summary>Self-signed mode only: a local CA (trust anchor) that signs instead; both or neither.</summary>
    public string? CaCertificatePath { get; init; }

    public string? CaKeyPath { get; init; }

    /// <summary>ACME mode only: the account's e-mail (expiry notices) and the directory nginx serves /.well-known/acme-challenge/ from.</summary>
    public string? AcmeEmail { get; init; }

    public string? AcmeWebroot { get; init; }

    /// <summary>Self-signed mode only: accept names without dots (hosts without DNS), as <see cref="NginxSiteSpec.AllowSingleLabelNames"/>.</summary>
    public bool AllowSingleLabelNames { get; init; }

    public string PrimaryName => Names.Count > 0 ? Names[0] : "";

    /// <summary>certbot's --cert-name: the primary name, so /etc/letsencrypt/live/&lt;primary&gt;/.</summary>
    public string AcmeCertName => PrimaryName;

    public string LineageCertificatePath => $"{LetsEncryptLive}/{AcmeCertName}/fullchain.pem";

    public string LineageKeyPath => $"{LetsEncryptLive}/{AcmeCertName}/privkey.pem";

    private const string LetsEncryptLive = "/etc/letsencrypt/live";

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        var acme = Mode == TlsCertificateMode.Acme;
        if (Names.Count is 0 or > NginxSiteSpec.MaxNames)
        {
            errors.Add($"tls.names: {Names.Count} names; a certificate needs 1-{NginxSiteSpec.MaxNames}, the primary first");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Names.Count; i++)
        {
            var name = Names[i];
            if (!Grammar.IsDomain(name) && !(AllowSingleLabelNames && !acme && Grammar.IsHostLabel(name)))
            {
                var hint = !Grammar.IsHostLabel(name) ? ""
                    : acme ? "; Let's Encrypt only certifies public DNS names, use self-signed mode for a name without dots"
                    : "; a name without dots needs tls.allow_single_label_names (hosts without DNS only)";
                errors.Add($"tls.names[{i}]: '{Grammar.Printable(name)}' is not a lowercase DNS name (labels of a-z, 0-9 and inner '-', at least two labels){hint}; fix the site's domains");
            }
            else if (!seen.Add(name))
            {
                errors.Add($"tls.names[{i}]: '{name}' is listed twice; list each name once");
            }
        }

        CheckPath(errors, "tls.certificate_path", CertificatePath);
        CheckPath(errors, "tls.key_path", KeyPath);
        if (CertificatePath == KeyPath)
        {
            errors.Add($"tls.key_path: equals tls.certificate_path ({CertificatePath}); the key needs its own file (mode 0600)");
        }

        foreach (var (field, path) in new[] { ("tls.certificate_path", CertificatePath), ("tls.key_path", KeyPath) })
        {
            if (path.StartsWith("/etc/letsencrypt/", StringComparison.Ordinal))
            {
                errors.Add($"{field}: {path} is inside certbot's directory, which certbot rewrites; serve a copy, e.g. /etc/ssl/odoofleet/<site>.pem");
            }
        }

        if (acme)
        {
            if (AcmeEmail is null || !Grammar.IsEmailAddress(AcmeEmail))
            {
                errors.Add($"tls.acme_email: '{Grammar.Printable(AcmeEmail ?? "")}' is not an e-mail address (local@lowercase.domain); Let's Encrypt sends expiry notices there, set it");
            }

            if (AcmeWebroot is null)
            {
                errors.Add("tls.acme_webroot: missing; ACME mode needs the directory nginx serves /.well-known/acme-challenge/ from");
            }
            else
            {
                CheckPath(errors, "tls.acme_webroot", AcmeWebroot);
            }

            if (CaCertificatePath is not null || CaKeyPath is not null)
            {
                errors.Add("tls.ca_certificate_path: a local CA only signs in self-signed mode; remove it or switch the mode");
            }
        }
        else
        {
            if ((CaCertificatePath is null) != (CaKeyPath is null))
            {
                errors.Add("tls.ca_key_path: a local CA needs both its certificate and its key; set both or neither");
            }

            if (CaCertificatePath is not null)
            {
                CheckPath(errors, "tls.ca_certificate_path", CaCertificatePath);
            }

            if (CaKeyPath is not null)
            {
                CheckPath(errors, "tls.ca_key_path", CaKeyPath);
            }

            if (AcmeEmail is not null || AcmeWebroot is not null)
            {
                errors.Add("tls.acme_email: ACME settings only apply in acme mode; remove them or switch the mode");
            }
        }

        return errors;
    }

    private static void CheckPath(List<string> errors, string field, string value)
    {
        if (!Grammar.IsSafeAbsolutePath(value) || value.EndsWith('/'))
        {
            errors.Add($"{field}: '{Grammar.Printable(value)}' must be an absolute path of letters, digits and ._+@:/- without '..', '//' or a trailing '/'; fix the path");
        }
    }
}

/// <summary>
/// Keeps the TLS pair nginx serves valid for the declared names: issued again when missing,
/// unparseable, mismatched (key vs certificate), for other names, from another issuer, or with
/// fewer than 30 days left. Key then certificate are each written atomically (key 0600,
/// certificate 0644, ".previous" kept); nginx reads them only on the reload that follows the
/// converge, and a crash between the two renames is a mismatch the next converge repairs.
/// </summary>
internal sealed class TlsCertificateResource : Resource<TlsCertificateResource.Observed>
{
    public static readonly TimeSpan Validity = TimeSpan.FromDays(90);

    /// <summary>Also certbot's default renew_before_expiry, so both agree on when --keep-until-expiring renews.</summary>
    public static readonly TimeSpan RenewBefore = TimeSpan.FromDays(30);

    private static readonly TimeSpan CertbotTimeout = TimeSpan.FromMinutes(5);
    private const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";
    private const string SubjectAltNameOid = "2.5.29.17";

    private readonly HostPaths paths;
    private readonly ICommandRunner runner;
    private readonly TimeProvider time;
    private readonly TlsCertificateSpec spec;
    private readonly Ownership? ownership;

    /// <param name="ownership">Owner of both served files (root:root in production); null leaves it alone.</param>
    public TlsCertificateResource(HostPaths paths, ICommandRunner runner, TimeProvider time, TlsCertificateSpec spec, Ownership? ownership)
    {
        var errors = spec.Validate();
        if (errors.Count > 0)
        {
            throw new SpecValidationException(errors);
        }

        (this.paths, this.runner, this.time, this.spec, this.ownership) = (paths, runner, time, spec, ownership);
    }

    /// <summary>What one certificate + key pair on disk is; <see cref="Problem"/> is null when both parse and match.</summary>
    internal sealed record PairState(string? Problem, IReadOnlyList<string> Names, string? CommonName, DateTimeOffset? NotAfter)
    {
        /// <summary>Hash of both files' bytes, to tell whether the served pair is a copy of certbot's.</summary>
        public string? Fingerprint { get; init; }

        /// <summary>Self-signed (issuer = subject), or signed by the configured local CA.</summary>
        public bool IssuerMatches { get; init; }

        public bool Usable => Problem is null;
    }

    internal sealed record Observed(PairState Served, PairState? Lineage, UnixFileMode? CertificateMode, UnixFileMode? KeyMode) : Observation
    {
        public Ownership? CertificateOwner { get; init; }

        public Ownership? KeyOwner { get; init; }

        /// <summary>When the served certificate expires (host facts: "certificate expiry"); null if there is none.</summary>
        public DateTimeOffset? NotAfter => Served.NotAfter;
    }

    private enum Action
    {
        Issue,
        Certbot,
        CopyLineage,
        FixMetadata,
    }

    /// <param name="Why">The reasons, repeated in the report after Apply (its message replaces the description).</param>
    private sealed record TlsChange(string Description, Action Action, bool ServedUsable, string Why = "") : Change(Description);

    public override string Id => $"tls:{spec.CertificatePath}";

    public override string Kind => "tls";

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        using var ca = spec.Mode == TlsCertificateMode.SelfSigned && spec.CaCertificatePath is { } caPath ? LoadCaCertificate(caPath) : null;
        var served = Inspect(spec.CertificatePath, spec.KeyPath, ca);
        var lineage = spec.Mode == TlsCertificateMode.Acme ? Inspect(spec.LineageCertificatePath, spec.LineageKeyPath, ca: null) : null;
        var certFull = paths.Resolve(spec.CertificatePath);
        var keyFull = paths.Resolve(spec.KeyPath);
        var certExists = File.Exists(certFull);
        var keyExists = File.Exists(keyFull);
        return new Observed(
            served, lineage, certExists ? File.GetUnixFileMode(certFull) : null, keyExists ? File.GetUnixFileMode(keyFull) : null)
        {
            CertificateOwner = ownership is not null && certExists ? await Ownership.ReadAsync(runner, certFull, ct) : null,
            KeyOwner = ownership is not null && keyExists ? await Ownership.ReadAsync(runner, keyFull, ct) : null,
        };
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies)
    {
        var names = string.Join(", ", spec.Names);
        if (spec.Mode == TlsCertificateMode.SelfSigned)
        {
            var reasons = Reasons(observed.Served, checkIssuer: true);
            if (reasons.Count > 0)
            {
                var issuer = spec.CaCertificatePath is null ? "self-signed" : $"signed by the local CA {spec.CaCertificatePath}";
                var why = string.Join("; ", reasons);
                return new TlsChange($"issue a {issuer} certificate for {names} ({why})", Action.Issue, observed.Served.Usable, why)
                {
                    Detail = IssueDetail(issuer),
                };
            }
        }
        else
        {
            var reasons = Reasons(observed.Lineage!, checkIssuer: false);
            if (reasons.Count > 0)
            {
                var why = string.Join("; ", reasons);
                return new TlsChange($"obtain a Let's Encrypt certificate for {names} with certbot ({why})", Action.Certbot, observed.Served.Usable, why)
                {
                    Detail = $"`{Certbot()}`, then copy {spec.LineageKeyPath} -> {spec.KeyPath} (secret, not shown) and {spec.LineageCertificatePath} -> {spec.CertificatePath}",
                };
            }

            if (observed.Served.Fingerprint != observed.Lineage!.Fingerprint)
            {
                return new TlsChange(
                    $"install certbot's certificate for {names} (valid until {Format(observed.Lineage.NotAfter)}) at {spec.CertificatePath}", Action.CopyLineage, observed.Served.Usable)
                {
                    Detail = $"copy {spec.LineageKeyPath} -> {spec.KeyPath} (secret, not shown) and {spec.LineageCertificatePath} -> {spec.CertificatePath}",
                };
            }
        }

        var drift = new List<string>();
        if (observed.KeyMode != FileModes.Mode0600)
        {
            drift.Add($"{spec.KeyPath} mode {(observed.KeyMode is { } k ? UnixModes.Format(k) : "?")} -> 0600");
        }

        if (observed.CertificateMode != FileModes.Mode0644)
        {
            drift.Add($"{spec.CertificatePath} mode {(observed.CertificateMode is { } c ? UnixModes.Format(c) : "?")} -> 0644");
        }

        if (ownership is not null && observed.KeyOwner != ownership)
        {
            drift.Add($"{spec.KeyPath} owner {observed.KeyOwner} -> {ownership}");
        }

        if (ownership is not null && observed.CertificateOwner != ownership)
        {
            drift.Add($"{spec.CertificatePath} owner {observed.CertificateOwner} -> {ownership}");
        }

        return drift.Count == 0 ? null : new TlsChange($"fix {string.Join(", ", drift)}", Action.FixMetadata, true);
    }

    public override async Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        var plan = (TlsChange)change;
        switch (plan.Action)
        {
            case Action.Issue:
            {
                var notAfter = await IssueAsync(ct);
                return $"issued a certificate for {string.Join(", ", spec.Names)} valid until {Format(notAfter)} (was: {plan.Why})";
            }

            case Action.Certbot:
                return await RunCertbotAsync(plan.ServedUsable, ct) + $" (was: {plan.Why})";

            case Action.CopyLineage:
                return await CopyLineageAsync(ct);

            default:
                await FixMetadataAsync(ct);
                return null;
        }
    }

    /// <summary>The exact certbot invocation (argument array, no shell); names are grammar-checked, none can start with '-'.</summary>
    internal CommandSpec Certbot()
    {
        List<string> arguments =
        [
            "certonly", "--webroot", "-w", spec.AcmeWebroot!, "--non-interactive", "--agree-tos", "-m", spec.AcmeEmail!,
            "--cert-name", spec.AcmeCertName, "--keep-until-expiring",
        ];
        foreach (var name in spec.Names)
        {
            arguments.AddRange(["-d", name]);
        }

        return new CommandSpec("certbot", arguments) { Timeout = CertbotTimeout };
    }

    private async Task<string> RunCertbotAsync(bool servedUsable, CancellationToken ct)
    {
        var command = Certbot();
        var result = await runner.RunAsync(command, ct);
        if (!result.Succeeded)
        {
            if (servedUsable)
            {
                throw new ResourceFailedException($"certbot failed; nginx keeps serving the current certificate: {result.Describe(command)}");
            }

            // First run: nginx cannot start (and serve the challenge) without some pair, so it gets
            // a placeholder; the next converge, with nginx up, retries certbot.
            var notAfter = await IssueAsync(ct);
            return $"certbot failed ({result.Describe(command)}); wrote a self-signed placeholder valid until {Format(notAfter)} so nginx can start and serve the ACME webroot; the next converge retries certbot";
        }

        var lineage = Inspect(spec.LineageCertificatePath, spec.LineageKeyPath, ca: null);
        var left = Reasons(lineage, checkIssuer: false).Where(reason => !reason.StartsWith("expires", StringComparison.Ordinal) || lineage.NotAfter <= time.GetUtcNow()).ToList();
        if (left.Count > 0)
        {
            throw new ResourceFailedException(
                $"certbot succeeded but /etc/letsencrypt/live/{spec.AcmeCertName} is not usable ({string.Join("; ", left)}); inspect it with `certbot certificates`");
        }

        return "certbot: " + await CopyLineageAsync(ct);
    }

    private async Task<string> CopyLineageAsync(CancellationToken ct)
    {
        // Read both first so the pair written is one certbot state, even if certbot's timer runs meanwhile.
        var key = await File.ReadAllBytesAsync(paths.Resolve(spec.LineageKeyPath), ct);
        var certificate = await File.ReadAllBytesAsync(paths.Resolve(spec.LineageCertificatePath), ct);
        await WritePairAsync(certificate, key, ct);
        var state = Inspect(spec.CertificatePath, spec.KeyPath, ca: null);
        return $"installed the Let's Encrypt certificate for {string.Join(", ", spec.Names)} valid until {Format(state.NotAfter)}";
    }

    private async Task<DateTimeOffset> IssueAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var notBefore = now.AddMinutes(-5);
        var notAfter = now + Validity;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var subject = new X500DistinguishedNameBuilder();
        subject.AddCommonName(spec.PrimaryName);
        var request = new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in spec.Names)
        {
            san.AddDnsName(name);
        }

        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(ServerAuthOid)], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));

        X509Certificate2 certificate;
        if (spec.Mode == TlsCertificateMode.SelfSigned && spec.CaCertificatePath is { } caPath && spec.CaKeyPath is { } caKeyPath)
        {
            certificate = SignWithCa(request, caPath, caKeyPath, notBefore, notAfter);
        }
        else
        {
            certificate = request.CreateSelfSigned(notBefore, notAfter);
        }

        using (certificate)
        {
            await WritePairAsync(Encoding.ASCII.GetBytes(certificate.ExportCertificatePem() + "\n"), Encoding.ASCII.GetBytes(key.ExportPkcs8PrivateKeyPem() + "\n"), ct);
        }

        return notAfter;
    }

    private X509Certificate2 SignWithCa(CertificateRequest request, string caPath, string caKeyPath, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        X509Certificate2 ca;
        try
        {
            ca = X509Certificate2.CreateFromPemFile(paths.Resolve(caPath), paths.Resolve(caKeyPath));
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new ResourceFailedException($"tls.ca_key_path: cannot load the local CA from {caPath} and {caKeyPath} ({e.Message}); check both are unencrypted PEM and belong together");
        }

        using (ca)
        {
            if (ca.NotAfter.ToUniversalTime() < notAfter.UtcDateTime)
            {
                throw new ResourceFailedException(
                    $"tls.ca_certificate_path: the local CA {caPath} expires {Format(ca.NotAfter)}, before a {Validity.TotalDays:0}-day certificate would; renew the CA");
            }

            using var ecdsa = ca.GetECDsaPrivateKey();
            using var rsa = ecdsa is null ? ca.GetRSAPrivateKey() : null;
            var generator = ecdsa is not null ? X509SignatureGenerator.CreateForECDsa(ecdsa)
                : rsa is not null ? X509SignatureGenerator.CreateForRSA(rsa, RSASignaturePadding.Pkcs1)
                : throw new ResourceFailedException($"tls.ca_key_path: {caKeyPath} is neither an ECDSA nor an RSA key; use one of those for the local CA");
            if (ca.Extensions.OfType<X509SubjectKeyIdentifierExtension>().FirstOrDefault() is { } caKeyId)
            {
                request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromSubjectKeyIdentifier(caKeyId));
            }

            var serial = RandomNumberGenerator.GetBytes(16);
            serial[0] &= 0x7f;
            return request.Create(ca.SubjectName, generator, notBefore, notAfter, serial);
        }
    }

    private async Task WritePairAsync(byte[] certificate, byte[] key, CancellationToken ct)
    {
        async Task Own(string temp, CancellationToken token)
        {
            if (ownership is not null)
            {
                await ownership.ApplyAsync(runner, temp, token);
            }
        }

        await AtomicFile.WriteAsync(paths.Resolve(spec.KeyPath), key, FileModes.Mode0600, ct, Own, keepPrevious: true);
        await AtomicFile.WriteAsync(paths.Resolve(spec.CertificatePath), certificate, FileModes.Mode0644, ct, Own, keepPrevious: true);
    }

    private async Task FixMetadataAsync(CancellationToken ct)
    {
        foreach (var (path, mode) in new[] { (spec.KeyPath, FileModes.Mode0600), (spec.CertificatePath, FileModes.Mode0644) })
        {
            var full = paths.Resolve(path);
            File.SetUnixFileMode(full, mode);
            if (ownership is not null)
            {
                await ownership.ApplyAsync(runner, full, ct);
            }
        }
    }

    private List<string> Reasons(PairState state, bool checkIssuer)
    {
        if (state.Problem is { } problem)
        {
            return [problem];
        }

        var reasons = new List<string>();
        var wanted = spec.Names.Order(StringComparer.Ordinal).ToList();
        if (!state.Names.Order(StringComparer.Ordinal).SequenceEqual(wanted, StringComparer.Ordinal))
        {
            reasons.Add($"it names {string.Join(", ", state.Names)}");
        }

        if (checkIssuer && state.CommonName != spec.PrimaryName)
        {
            reasons.Add($"its CN is {state.CommonName ?? "missing"}");
        }

        if (checkIssuer && !state.IssuerMatches)
        {
            reasons.Add(spec.CaCertificatePath is null ? "it is not self-signed" : $"it is not signed by {spec.CaCertificatePath}");
        }

        if (state.NotAfter is { } notAfter && notAfter - time.GetUtcNow() < RenewBefore)
        {
            reasons.Add($"expires {Format(notAfter)}, fewer than {RenewBefore.TotalDays:0} days from now");
        }

        return reasons;
    }

    private PairState Inspect(string certificatePath, string keyPath, X509Certificate2? ca)
    {
        static PairState Broken(string problem) => new(problem, [], null, null);

        var certFull = paths.Resolve(certificatePath);
        var keyFull = paths.Resolve(keyPath);
        var (certExists, keyExists) = (File.Exists(certFull), File.Exists(keyFull));
        if (!certExists || !keyExists)
        {
            return Broken(certExists ? $"{keyPath} is missing" : keyExists ? $"{certificatePath} is missing" : "there is none yet");
        }

        var certBytes = File.ReadAllBytes(certFull);
        var keyBytes = File.ReadAllBytes(keyFull);
        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPem(Encoding.ASCII.GetString(certBytes));
        }
        catch (CryptographicException)
        {
            return Broken($"{certificatePath} is not a PEM certificate");
        }

        using (certificate)
        {
            var publicKey = PublicKeyOfPrivateKey(Encoding.ASCII.GetString(keyBytes));
            if (publicKey is null)
            {
                return Broken($"{keyPath} is not an unencrypted PEM EC or RSA private key");
            }

            if (!publicKey.AsSpan().SequenceEqual(certificate.PublicKey.ExportSubjectPublicKeyInfo()))
            {
                return Broken($"{keyPath} does not match {certificatePath}");
            }

            var names = certificate.Extensions
                .Where(e => e.Oid?.Value == SubjectAltNameOid)
                .SelectMany(e => new X509SubjectAlternativeNameExtension(e.RawData, e.Critical).EnumerateDnsNames())
                .Select(name => name.ToLowerInvariant())
                .ToList();
            var commonName = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
            var fingerprint = Convert.ToHexStringLower(SHA256.HashData(certBytes)) + Convert.ToHexStringLower(SHA256.HashData(keyBytes));
            return new PairState(null, names, commonName, new DateTimeOffset(certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero))
            {
                Fingerprint = fingerprint,
                IssuerMatches = ca is null ? certificate.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData) : IsIssuedBy(certificate, ca),
            };
        }
    }

    private static bool IsIssuedBy(X509Certificate2 certificate, X509Certificate2 ca)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;

        // Expiry is judged against the injected clock elsewhere; here only the signature counts.
        chain.ChainPolicy.VerificationFlags = X509VerificationFlags.IgnoreNotTimeValid | X509VerificationFlags.IgnoreCtlNotTimeValid;
        return chain.Build(certificate);
    }

    private static byte[]? PublicKeyOfPrivateKey(string pem)
    {
        try
        {
            using var ecdsa = ECDsa.Create();
            ecdsa.ImportFromPem(pem);
            return ecdsa.ExportSubjectPublicKeyInfo();
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            // Not an EC key: try RSA below.
        }

        try
        {
            using var rsa = RSA.Create();
            rsa.ImportFromPem(pem);
            return rsa.ExportSubjectPublicKeyInfo();
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            return null;
        }
    }

    private X509Certificate2 LoadCaCertificate(string caPath)
    {
        try
        {
            return X509Certificate2.CreateFromPem(File.ReadAllText(paths.Resolve(caPath)));
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new ResourceFailedException($"tls.ca_certificate_path: cannot read the local CA certificate {caPath} ({e.Message}); install it or remove the CA from the spec");
        }
    }

    private string IssueDetail(string issuer) =>
        $"{spec.CertificatePath}: {issuer}, CN={spec.PrimaryName}, DNS={string.Join(",", spec.Names)}, ECDSA P-256, serverAuth, "
        + $"valid {Validity.TotalDays:0} days from {Format(time.GetUtcNow())}\n{spec.KeyPath}: new private key (secret, not shown)";

    private static string Format(DateTimeOffset? instant) =>
        instant?.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture) ?? "unknown";

    private static string Format(DateTime instant) => Format(new DateTimeOffset(instant.ToUniversalTime(), TimeSpan.Zero));
}
