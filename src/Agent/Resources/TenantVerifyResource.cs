using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.IO;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Release;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// After a move in, the tenant's site answers through this host's nginx: GET https://DOMAIN/web/login
/// sent to 127.0.0.1 (SNI and Host are the tenant's primary domain) must be 200 and present the
/// tenant's own certificate (the file on disk), and not be sent to the database selector. Polls
/// until a deadline like a health check; red fails the converge, which rolls the move back.
/// </summary>
internal sealed class TenantVerifyResource(
    HostPaths paths, TimeProvider time, string tenant, string domain, string certificatePath, TimeSpan deadline, TimeSpan interval)
    : Resource<TenantVerifyResource.Observed>
{
    internal sealed record Observed(bool Serving, string Detail, int Attempts) : Observation;

    public int Port { get; init; } = 443;

    public string Address { get; init; } = "127.0.0.1";

    public override string Id => $"tenant-verify:{tenant}";

    public override string Kind => "tenant-verify";

    public override bool CanPrefetch => false;

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        var started = time.GetTimestamp();
        var attempts = 0;
        while (true)
        {
            attempts++;
            var detail = await AttemptAsync(ct);
            if (detail is null)
            {
                return new Observed(true, "200", attempts);
            }

            if (time.GetElapsedTime(started) + interval >= deadline)
            {
                return new Observed(false, detail, attempts);
            }

            await Task.Delay(interval, time, ct);
        }
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies) =>
        observed.Serving
            ? null
            : throw new ResourceFailedException(
                $"tenant {tenant}: https://{domain}/web/login through this host's nginx did not answer within {deadline.TotalSeconds:0} s ({observed.Attempts} attempts, last: {observed.Detail})");

    public override Task<string?> ApplyAsync(Change change, CancellationToken ct) =>
        throw new ResourceFailedException($"{Id} cannot be applied, only observed");

    /// <summary>Null when the site serves, else what was wrong.</summary>
    private async Task<string?> AttemptAsync(CancellationToken ct)
    {
        X509Certificate2 expected;
        try
        {
            expected = X509CertificateLoader.LoadCertificateFromFile(paths.Resolve(certificatePath));
        }
        catch (Exception e) when (e is IOException or CryptographicException or UnauthorizedAccessException)
        {
            return $"certificate {certificatePath}: {e.Message}";
        }

        using (expected)
        {
            var presented = "";
            using var handler = new SocketsHttpHandler
            {
                ConnectCallback = async (_, token) =>
                {
                    var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    try
                    {
                        await socket.ConnectAsync(Address, Port, token);
                        return new NetworkStream(socket, ownsSocket: true);
                    }
                    catch
                    {
                        socket.Dispose();
                        throw;
                    }
                },
                SslOptions = new SslClientAuthenticationOptions
                {
                    TargetHost = domain,
                    RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    {
                        presented = certificate?.Subject ?? "none";
                        return certificate is not null && certificate.GetRawCertData().AsSpan().SequenceEqual(expected.RawData);
                    },
                },
                AllowAutoRedirect = false,
            };
            using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
            try
            {
                using var response = await http.GetAsync(new Uri($"https://{domain}:{Port}/web/login"), ct);
                if ((int)response.StatusCode != 200)
                {
                    return $"HTTP {(int)response.StatusCode}{(response.Headers.Location is { } to ? $" to {to}" : "")}";
                }

                return null;
            }
            catch (HttpRequestException e)
            {
                return presented.Length > 0 ? $"{e.Message} (certificate presented: {presented}, expected the tenant's {certificatePath})" : e.Message;
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
                return "no answer (request timed out)";
            }
        }
    }
}
