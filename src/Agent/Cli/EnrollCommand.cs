using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using Grpc.Core;
using OdooFleet.Agent.Configuration;
using OdooFleet.Agent.Facts;
using OdooFleet.Agent.Transport;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Cli;

/// <summary>
/// `enroll`: exchange a bootstrap token and a CSR for a host identity, over TLS to a controller
/// whose CA is pinned on the command line, and write the identity and the agent config.
/// </summary>
internal static class EnrollCommand
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    public static async Task<int> RunAsync(ParsedArgs args, CancellationToken ct)
    {
        var urls = args.Values("controller").Select(u => u.Trim().TrimEnd('/')).ToList();
        var token = args.Value("token") ?? "";
        var configPath = args.Value("config") ?? AgentConfig.DefaultPath;
        if (urls.Count == 0)
        {
            throw new UsageException("enroll: --controller URL is required (the controller's agent endpoint, e.g. https://fleet.example.com:5001)");
        }

        if (token.Trim().Length == 0)
        {
            throw new UsageException("enroll: --token TOKEN is required; create one on the controller with `fleet token create`");
        }

        var invalid = urls.Select(CheckUrl).OfType<string>().ToList();
        if (invalid.Count > 0)
        {
            throw new UsageException(string.Join("\n", invalid));
        }

        using var pin = ReadPin(args.Value("ca-sha256"), args.Value("ca-file"));
        if (File.Exists(configPath) && !args.Flag("force"))
        {
            await Console.Error.WriteLineAsync(
                $"error: this host is already enrolled ({configPath} exists); pass --force to enroll again (the old identity stops working once the controller removes it)");
            return ExitCodes.AlreadyEnrolled;
        }

        var facts = FactCollector.Collect();
        var name = args.Value("name") is { Length: > 0 } given ? given : facts.Hostname;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new EnrollRequest
        {
            Token = token.Trim(),
            Name = args.Value("name") ?? "",
            Facts = facts.ToProto(),
            Csr = ByteString.CopyFrom(FleetTrust.CreateCsr(key, name)),
        };
        var unreachable = new List<string>();
        var untrusted = new List<string>();
        foreach (var url in urls)
        {
            string? refusal = null;
            CaPin urlPin;
            try
            {
                urlPin = pin.Certificate is null ? new CaPin(pin.Sha256, await FetchPinnedCaAsync(url, pin.Sha256, ct)) : pin;
            }
            catch (HttpRequestException e)
            {
                unreachable.Add($"  {url}: fetching {url}{CaCertificatePath} failed ({e.GetBaseException().Message})");
                continue;
            }
            catch (IdentityException e)
            {
                untrusted.Add($"  {url}: {e.Message}");
                continue;
            }

            using var fetchedPin = ReferenceEquals(urlPin, pin) ? null : urlPin;
            using var channel = ControllerClient.CreateChannel(url, PinnedTls(urlPin, reason => refusal = reason));
            var client = new AgentService.AgentServiceClient(channel);
            EnrollResponse response;
            try
            {
                response = await client.EnrollAsync(request, deadline: DateTime.UtcNow.Add(CallTimeout), cancellationToken: ct);
            }
            catch (RpcException) when (refusal is not null)
            {
                untrusted.Add($"  {url}: {refusal}");
                continue;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
            {
                unreachable.Add($"  {url}: {Describe(e)}");
                continue;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.PermissionDenied or StatusCode.Unauthenticated)
            {
                await Console.Error.WriteLineAsync($"error: {url} refused the token: {e.Status.Detail}");
                return ExitCodes.TokenRefused;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.InvalidArgument or StatusCode.AlreadyExists or StatusCode.FailedPrecondition)
            {
                await Console.Error.WriteLineAsync($"error: {url} rejected the enrollment: {e.Status.Detail}");
                return ExitCodes.EnrollRejected;
            }
            catch (RpcException e)
            {
                await Console.Error.WriteLineAsync($"error: enrollment at {url} failed: {e.StatusCode}: {Describe(e)}");
                return ExitCodes.Failed;
            }

            VerifiedIdentity verified;
            try
            {
                verified = FleetTrust.CheckIdentity(response.Identity, pin.Sha256, key, response.HostId, DateTimeOffset.UtcNow);
            }
            catch (IdentityException e)
            {
                await Console.Error.WriteLineAsync(
                    $"error: the identity {url} returned failed its check: {e.Message}; nothing was written. " +
                    "The token is spent: create a new one with `fleet token create` and check that --controller and --ca-sha256 name the same fleet");
                return ExitCodes.ControllerUntrusted;
            }

            var returned = response.ControllerUrls.Select(u => u.Trim().TrimEnd('/')).Where(u => u.Length > 0).ToList();
            foreach (var skipped in returned.Where(u => CheckUrl(u) is not null))
            {
                await Console.Error.WriteLineAsync($"warning: ignoring controller URL '{skipped}' from the controller: the agent only uses https:// URLs");
            }

            var config = new AgentConfig
            {
                HostId = response.HostId,
                ControllerUrls = AgentConfig.MergeControllerUrls(urls, returned.Where(u => CheckUrl(u) is null)),
                Broker = new BrokerSettings
                {
                    Host = response.Broker?.Host ?? "",
                    Port = response.Broker?.Port is > 0 and var port ? port : 5672,
                    VirtualHost = response.Broker?.VirtualHost is { Length: > 0 } vhost ? vhost : "/",
                    Username = response.Broker?.Username ?? "",
                    Password = response.Broker?.Password ?? "",
                    Queue = response.Broker?.Queue ?? "",
                },
                IdentityPath = AgentConfig.IdentityPathBeside(configPath),
                CommandSigningKey = Convert.ToBase64String(verified.CommandSigningKey),
                CommandSigningKeyId = verified.CommandSigningKeyId,
                Name = response.Name is { Length: > 0 } enrolledName ? enrolledName : name,
                EnrolledAt = DateTimeOffset.UtcNow,
            };
            using (var identity = Configuration.AgentIdentity.Create(key, verified.Certificate, verified.Ca))
            {
                await identity.SaveAsync(config.IdentityPath, ct);
            }

            // agent.json last: its presence means "enrolled", so it must never point at a missing identity.
            await config.SaveAsync(configPath, ct);
            // A new identity starts from generation 0: the old journal and cached spec belong to
            // the previous identity and would make this host ack its first commands as "done".
            if (Directory.Exists(config.StateDirectory))
            {
                File.Delete(config.JournalPath);
                File.Delete(config.SpecCachePath);
            }

            Console.WriteLine($"enrolled as {config.HostId} at {url}; identity written to {config.IdentityPath}, config to {configPath}");
            Console.WriteLine($"client certificate valid until {verified.Certificate.NotAfter.ToUniversalTime():u} (renewed automatically)");
            Console.WriteLine("start the agent: systemctl enable --now odoofleet-agent");
            return ExitCodes.Ok;
        }

        if (untrusted.Count > 0)
        {
            await Console.Error.WriteLineAsync(
                "error: no controller could be trusted (nothing was sent to them):\n" + string.Join("\n", untrusted.Concat(unreachable)) +
                "\ncheck --ca-sha256 (the ca_sha256 printed by `fleet token create`) or --ca-file, and that the URL's host name is one the controller's certificate names");
            return ExitCodes.ControllerUntrusted;
        }

        await Console.Error.WriteLineAsync(
            "error: no controller could be reached:\n" + string.Join("\n", unreachable) +
            "\ncheck the URL (scheme, host and port of the controller's agent endpoint), that the controller is running, " +
            "and that this host can reach it (DNS, firewall)");
        return ExitCodes.ControllerUnreachable;
    }

    /// <summary>Where every controller serves the fleet CA certificate (DER): public, like any CA certificate.</summary>
    internal const string CaCertificatePath = "/fleet-ca.crt";

    /// <summary>
    /// The fleet CA named by <paramref name="pin"/>, downloaded from the controller: TLS servers on
    /// Linux never send a self-signed root in the handshake, so the agent fetches it first. The
    /// download trusts nothing and sends nothing secret; the bytes count only if their SHA-256 is
    /// the pin and they are a CA certificate. The enrollment call then trusts exactly that CA.
    /// </summary>
    internal static async Task<X509Certificate2> FetchPinnedCaAsync(string url, byte[] pin, CancellationToken ct)
    {
        // The server is not known yet: its certificate is kept and checked against the CA once the
        // CA's bytes have proved to be the pinned ones.
        X509Certificate2? server = null;
        var serverErrors = SslPolicyErrors.None;
        using var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(10),
            SslOptions =
            {
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                {
                    server = certificate is null ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                    // Chain errors are expected (the fleet CA is in no system store) and judged below.
                    serverErrors = errors & ~SslPolicyErrors.RemoteCertificateChainErrors;
                    return server is not null;
                },
            },
        };
        using var http = new HttpClient(handler) { Timeout = CallTimeout, MaxResponseContentBufferSize = 64 * 1024 };
        using var request = new HttpRequestMessage(HttpMethod.Get, url + CaCertificatePath)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrHigher,
        };
        using var response = await http.SendAsync(request, ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new IdentityException($"{url}{CaCertificatePath} answered {(int)response.StatusCode}: this is not an OdooFleet controller (or an older one); pass the CA with --ca-file");
        }

        var der = await response.Content.ReadAsByteArrayAsync(ct);
        if (!SHA256.HashData(der).AsSpan().SequenceEqual(pin))
        {
            throw new IdentityException(
                $"the CA served at {url}{CaCertificatePath} has SHA-256 {Convert.ToHexStringLower(SHA256.HashData(der))}, not the pinned one: " +
                "this is not the fleet the token came from, or --ca-sha256 was mistyped");
        }

        X509Certificate2 ca;
        try
        {
            ca = X509CertificateLoader.LoadCertificate(der);
        }
        catch (CryptographicException e)
        {
            throw new IdentityException($"{url}{CaCertificatePath}: not a certificate ({e.Message})");
        }

        using (server)
        {
            var refusal = !FleetTrust.IsCa(ca) ? "the pinned certificate is not a CA"
                : FleetTrust.CheckServer(ca, server, null, serverErrors, DateTimeOffset.UtcNow) is { } why ? $"the server's own certificate: {why}"
                : null;
            if (refusal is not null)
            {
                ca.Dispose();
                throw new IdentityException($"{url}{CaCertificatePath}: {refusal}");
            }
        }

        return ca;
    }

    /// <summary>TLS for enrollment: no client certificate yet; the server must present the pinned CA and chain to it.</summary>
    internal static SslClientAuthenticationOptions PinnedTls(CaPin pin, Action<string> refused) => new()
    {
        RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
        {
            if (FleetTrust.CheckEnrollmentServer(pin.Sha256, pin.Certificate, certificate, chain, errors, DateTimeOffset.UtcNow) is not { } reason)
            {
                return true;
            }

            refused(reason);
            return false;
        },
    };

    /// <summary>Null if <paramref name="url"/> is usable for enrollment (an https controller URL), else what is wrong.</summary>
    internal static string? CheckUrl(string url)
    {
        if (ControllerUrl.Check(url) is { } error)
        {
            return error;
        }

        return url.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
            ? null
            : $"--controller '{url}': the agent endpoint is https (mutual TLS); use https://HOST:PORT";
    }

    /// <summary>The CA pin from --ca-sha256 and/or --ca-file (which must agree); one of them is required.</summary>
    internal static CaPin ReadPin(string? sha256, string? caFile)
    {
        byte[]? fromHex = null;
        if (sha256 is not null)
        {
            try
            {
                fromHex = FleetTrust.ParsePin(sha256);
            }
            catch (FormatException e)
            {
                throw new UsageException(e.Message);
            }
        }

        if (caFile is null)
        {
            return new CaPin(fromHex ?? throw new UsageException(
                "enroll: --ca-sha256 HEX (the ca_sha256 printed by `fleet token create`) or --ca-file PEM is required: without it this host cannot tell the real controller from an impostor"), null);
        }

        var ca = LoadCaFile(caFile);
        var fromFile = FleetTrust.Fingerprint(ca);
        if (fromHex is not null && !fromHex.AsSpan().SequenceEqual(fromFile))
        {
            ca.Dispose();
            throw new UsageException(
                $"--ca-sha256 and --ca-file disagree: the file's certificate has SHA-256 {Convert.ToHexStringLower(fromFile)}; give one of them, or the matching pair");
        }

        return new CaPin(fromFile, ca);
    }

    private static X509Certificate2 LoadCaFile(string path)
    {
        X509Certificate2 ca;
        try
        {
            var pem = File.ReadAllText(path);
            if (!PemEncoding.TryFind(pem, out var fields) || pem[fields.Label] != "CERTIFICATE")
            {
                throw new UsageException($"--ca-file '{path}': no PEM CERTIFICATE block; give the fleet CA certificate (PEM)");
            }

            ca = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(pem[fields.Base64Data]));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or FormatException)
        {
            throw new UsageException($"--ca-file '{path}': cannot read a PEM certificate ({e.Message}); give the fleet CA certificate (PEM)");
        }

        if (!FleetTrust.IsCa(ca))
        {
            var subject = ca.Subject;
            ca.Dispose();
            throw new UsageException($"--ca-file '{path}': '{subject}' is not a CA certificate; give the fleet CA, not a server or client certificate");
        }

        return ca;
    }

    private static string Describe(RpcException e) =>
        e.Status.DebugException is { } inner ? $"{e.Status.Detail} ({inner.GetBaseException().Message})" : e.Status.Detail;
}

/// <summary>The fleet CA as the operator named it: its SHA-256, and the certificate itself when given with --ca-file.</summary>
internal sealed record CaPin(byte[] Sha256, X509Certificate2? Certificate) : IDisposable
{
    public void Dispose() => Certificate?.Dispose();
}
