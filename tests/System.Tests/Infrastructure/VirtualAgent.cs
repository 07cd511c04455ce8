using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using OdooFleet.Contracts.V1;

namespace OdooFleet.SystemTests.Infrastructure;

/// <summary>
/// A host identity made by the test itself: a key and CSR enrolled over the controller's real https
/// agent endpoint with the CA pin, exactly as odoofleet-agent does, so the test can then try what
/// a stolen or forged identity would.
/// </summary>
internal sealed class VirtualAgent : IDisposable
{
    public const string Endpoint = "https://10.231.0.1:7001";

    private VirtualAgent(EnrollResponse response, X509Certificate2 certificate, string caSha256)
    {
        Response = response;
        Certificate = certificate;
        CaSha256 = caSha256;
    }

    public EnrollResponse Response { get; }

    public string HostId => Response.HostId;

    public X509Certificate2 Certificate { get; }

    public string CaSha256 { get; }

    /// <summary>A new enrollment token: (token, id, ca_sha256). The token is recorded for the secret scan.</summary>
    public static async Task<(string Token, string Id, string CaSha256)> NewTokenAsync(params string[] extra)
    {
        var json = await LiveFleet.FleetJsonAsync(["token", "create", "--ttl", "10m", .. extra]);
        var token = json.GetProperty("token").GetString()!;
        LiveFleet.RememberSecret(token);
        return (token, json.GetProperty("id").GetString()!, json.GetProperty("caSha256").GetString()!);
    }

    public static async Task<VirtualAgent> EnrollAsync(string name, string? token = null, string? caSha256 = null)
    {
        if (token is null || caSha256 is null)
        {
            (token, _, caSha256) = await NewTokenAsync();
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var response = await EnrollRawAsync(token, caSha256, name, CreateCsr(key, name));
        using var issued = X509CertificateLoader.LoadCertificate(response.Identity.Certificate.ToByteArray());
        using var withKey = issued.CopyWithPrivateKey(key);
        // SslStream wants a certificate whose key it can use on every platform: a PKCS#12 round trip gives one.
        var usable = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
        if (response.Broker is { Password.Length: > 0 } broker)
        {
            LiveFleet.RememberSecret(broker.Password);
        }

        return new VirtualAgent(response, usable, caSha256);
    }

    public static async Task<EnrollResponse> EnrollRawAsync(string token, string caSha256, string name, byte[] csr)
    {
        using var channel = await ChannelAsync(caSha256, client: null);
        var facts = new HostFacts { Hostname = name, OsId = "debian", OsVersion = "12", CpuCores = 2, MemoryBytes = 2L << 30, AgentVersion = "system-test" };
        return await new AgentService.AgentServiceClient(channel).EnrollAsync(
            new EnrollRequest { Token = token, Name = name, Facts = facts, Csr = Google.Protobuf.ByteString.CopyFrom(csr) },
            deadline: DateTime.UtcNow.AddSeconds(30));
    }

    public static byte[] CreateCsr(ECDsa key, string name) =>
        new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256).CreateSigningRequest();

    public async Task<(AgentService.AgentServiceClient Client, GrpcChannel Channel)> ClientAsync()
    {
        var channel = await ChannelAsync(CaSha256, Certificate);
        return (new AgentService.AgentServiceClient(channel), channel);
    }

    /// <summary>A channel to the agent endpoint that trusts only the pinned fleet CA and presents <paramref name="client"/> (or nothing).</summary>
    public static async Task<GrpcChannel> ChannelAsync(string caSha256, X509Certificate2? client)
    {
        var ca = await PinnedCaAsync(caSha256);
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(10),
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = client is null ? null : [client],
                LocalCertificateSelectionCallback = client is null ? null : (_, _, _, _, _) => client,
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    certificate is not null && ChainsTo(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()), ca),
            },
        };
        return GrpcChannel.ForAddress(Endpoint, new GrpcChannelOptions { HttpHandler = handler });
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, X509Certificate2> CaByPin = new();

    /// <summary>
    /// The fleet CA as an agent gets it: downloaded from /fleet-ca.crt (TLS servers on Linux never send
    /// a self-signed root) and accepted only when its SHA-256 is the pin.
    /// </summary>
    private static async Task<X509Certificate2> PinnedCaAsync(string pin)
    {
        if (CaByPin.TryGetValue(pin, out var known))
        {
            return known;
        }

        using var handler = new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null } };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(HttpMethod.Get, Endpoint + "/fleet-ca.crt") { Version = new Version(2, 0), VersionPolicy = HttpVersionPolicy.RequestVersionOrHigher };
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        var der = await response.Content.ReadAsByteArrayAsync();
        if (Convert.ToHexStringLower(SHA256.HashData(der)) != pin)
        {
            throw new InvalidOperationException($"the CA served at {Endpoint}/fleet-ca.crt is not the pinned {pin}");
        }

        return CaByPin.GetOrAdd(pin, X509CertificateLoader.LoadCertificate(der));
    }

    private static bool ChainsTo(X509Certificate2 leaf, X509Certificate2 ca)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(leaf);
    }

    /// <summary>Runs <paramref name="call"/> and returns the gRPC status it ended with (OK when it succeeded).</summary>
    public static async Task<Status> StatusOfAsync(Func<Task> call)
    {
        try
        {
            await call();
            return Status.DefaultSuccess;
        }
        catch (RpcException e)
        {
            return e.Status;
        }
    }

    public static async Task<JsonElement[]> AuditAsync(string since = "15m")
    {
        var json = await LiveFleet.FleetJsonAsync("audit", "--since", since, "--limit", "10000");
        return [.. json.EnumerateArray()];
    }

    public void Dispose() => Certificate.Dispose();
}
