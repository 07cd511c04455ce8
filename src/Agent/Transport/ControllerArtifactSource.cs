using System.Net;
using Microsoft.Extensions.Logging;
using OdooFleet.Agent.Configuration;
using OdooFleet.Agent.Release;

namespace OdooFleet.Agent.Transport;

/// <summary>
/// Release artifacts from the controllers' agent endpoint: the same mutual TLS as the gRPC calls
/// (our client certificate, server checked against the fleet CA), each controller in turn until one
/// serves the file. Any controller can serve it: one that lacks the file rebuilds it.
/// </summary>
internal sealed partial class ControllerArtifactSource : IReleaseArtifactSource, IDisposable
{
    private readonly IReadOnlyList<string> urls;
    private readonly HttpClient http;
    private readonly ILogger logger;

    public ControllerArtifactSource(AgentConfig config, IdentityHolder identity, TimeProvider time, ILogger<ControllerArtifactSource> logger)
    {
        urls = config.ControllerUrls;
        this.logger = logger;
        var handler = new SocketsHttpHandler
        {
            SslOptions = ControllerClient.MutualTls(identity, time, reason => LogServerRefused(logger, reason)),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            // A renewed certificate must be presented: connections do not live long.
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        };
        // Building a large artifact on a controller that lacks it takes a while: no overall timeout, the caller's token bounds it.
        http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    public async Task DownloadAsync(string path, Func<Stream, CancellationToken, Task> consume, CancellationToken ct)
    {
        var errors = new List<string>();
        foreach (var url in urls)
        {
            var uri = new Uri(new Uri(url), path);
            using var request = new HttpRequestMessage(HttpMethod.Get, uri)
            {
                Version = HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
            };
            try
            {
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    errors.Add($"{uri}: HTTP {(int)response.StatusCode}");
                    LogDownloadFailed(logger, uri.ToString(), $"HTTP {(int)response.StatusCode}");
                    continue;
                }

                await using var body = await response.Content.ReadAsStreamAsync(ct);
                await consume(body, ct);
                return;
            }
            catch (HttpRequestException e)
            {
                errors.Add($"{uri}: {e.Message}");
                LogDownloadFailed(logger, uri.ToString(), e.Message);
            }
        }

        throw new ArtifactDownloadException(
            $"no controller served {path} ({string.Join("; ", errors)}); check that the rollout's artifact exists on the controller and the agent can reach it");
    }

    public async Task UploadAsync(string path, string file, string sha256, CancellationToken ct)
    {
        var errors = new List<string>();
        foreach (var url in urls)
        {
            var uri = new Uri(new Uri(url), path);
            await using var body = File.OpenRead(file);
            using var request = new HttpRequestMessage(HttpMethod.Put, uri)
            {
                Version = HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
                Content = new StreamContent(body),
            };
            request.Headers.Add("X-Archive-Sha256", sha256);
            request.Content.Headers.ContentLength = body.Length;
            try
            {
                using var response = await http.SendAsync(request, ct);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }

                var detail = Printable(await response.Content.ReadAsStringAsync(ct));
                errors.Add($"{uri}: HTTP {(int)response.StatusCode} {detail}");
                LogUploadFailed(logger, uri.ToString(), $"HTTP {(int)response.StatusCode} {detail}");
                if ((int)response.StatusCode is >= 400 and < 500)
                {
                    // Refused on its merits (wrong step, corrupt, too large): another controller answers the same.
                    break;
                }
            }
            catch (HttpRequestException e)
            {
                errors.Add($"{uri}: {e.Message}");
                LogUploadFailed(logger, uri.ToString(), e.Message);
            }
        }

        throw new ArtifactDownloadException($"no controller stored {path} ({string.Join("; ", errors)})");
    }

    public void Dispose() => http.Dispose();

    private static string Printable(string text) =>
        new([.. text.Take(300).Select(c => char.IsControl(c) ? ' ' : c)]);

    [LoggerMessage(Level = LogLevel.Warning, Message = "tenant archive upload to {Url} failed: {Error}")]
    private static partial void LogUploadFailed(ILogger logger, string url, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "release artifact download from {Url} failed: {Error}")]
    private static partial void LogDownloadFailed(ILogger logger, string url, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "controller is not trusted for artifact downloads: {Reason}")]
    private static partial void LogServerRefused(ILogger logger, string reason);
}
