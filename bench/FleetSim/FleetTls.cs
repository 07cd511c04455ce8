using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace OdooFleet.FleetSim;

/// <summary>The agent's trust in controllers: the fleet CA fetched once, accepted only under its pin, and nothing else.</summary>
internal static class FleetTls
{
    /// <summary>The CA served at /fleet-ca.crt, accepted only if its SHA-256 is <paramref name="pinHex"/>.</summary>
    public static async Task<X509Certificate2> FetchPinnedCaAsync(string agentUrl, string pinHex, CancellationToken ct)
    {
        // Nothing secret goes over this connection; the bytes count only under the pin.
        using var handler = new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null } };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(HttpMethod.Get, agentUrl + "/fleet-ca.crt")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrHigher,
        };
        using var response = await http.SendAsync(request, ct);
        response.EnsureSuccessStatusCode();
        var der = await response.Content.ReadAsByteArrayAsync(ct);
        var actual = Convert.ToHexStringLower(SHA256.HashData(der));
        if (!string.Equals(actual, pinHex, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"{agentUrl}/fleet-ca.crt has SHA-256 {actual}, not the pinned ca_sha256 {pinHex}: not the controller the token came from");
        }

        return X509CertificateLoader.LoadCertificate(der);
    }

    /// <summary>True if the controller's certificate chains to the fleet CA (which may itself be issued by an anchor nobody holds).</summary>
    public static bool IsIssuedByFleetCa(X509Certificate? presented, X509Certificate2 ca)
    {
        if (presented is null)
        {
            return false;
        }

        using var leaf = X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        var built = chain.Build(leaf);
        var top = chain.ChainElements.Count > 0 ? chain.ChainElements[^1].Certificate : null;
        var endsAtCa = top is not null && top.RawData.AsSpan().SequenceEqual(ca.RawData);
        return endsAtCa && (built || chain.ChainStatus.All(s => s.Status == X509ChainStatusFlags.PartialChain));
    }
}
