using System.Buffers.Text;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Hosting;
using OdooFleet.Controller.Secrets;

namespace OdooFleet.Controller.Messaging;

/// <summary>A host's own broker login, as handed to its agent at enrollment.</summary>
internal sealed record BrokerCredentials(string Username, string Password)
{
    /// <summary>Never prints the password (records print every property by default).</summary>
    public override string ToString() => $"BrokerCredentials {{ Username = {Username} }}";
}

/// <summary>
/// Each host's own RabbitMQ user, made and removed through RabbitMQ's management HTTP API: it may
/// read its own queue and nothing else (no configure, no write), so a host that is taken over can
/// neither read other hosts' commands nor forge any. The password lives in the secret store.
/// </summary>
internal sealed partial class BrokerUsers : IDisposable
{
    public const string UserPrefix = "fleet-host-";

    /// <summary>A broker that does not answer must not hold an enrollment or a removal for long.</summary>
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(15);

    private readonly HttpClient http;
    private readonly BrokerOptions options;
    private readonly SecretStore secrets;
    private readonly ILogger<BrokerUsers> logger;

    public BrokerUsers(IOptions<BrokerOptions> options, SecretStore secrets, ILogger<BrokerUsers> logger)
    {
        this.options = options.Value;
        this.secrets = secrets;
        this.logger = logger;
        var baseUri = this.options.ManagementUri;
        http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            BaseAddress = new Uri(baseUri.ToString().TrimEnd('/') + "/"),
            Timeout = RequestTimeout,
        };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{this.options.Username}:{this.options.Password}")));
    }

    public static string UserName(string hostId) => UserPrefix + hostId;

    public static string SecretName(string hostId) => $"broker/host/{hostId}";

    /// <summary>The only queue a host may read: its own, matched exactly.</summary>
    public static string ReadPattern(string hostId) => "^" + Regex.Escape(HostCommandPublisher.QueueName(hostId)) + "$";

    /// <summary>
    /// Creates the host's user (or puts it back as stored) with read access to its own queue only.
    /// Idempotent: a second call keeps the stored password, so an agent that already has it keeps working.
    /// </summary>
    public async Task<BrokerCredentials> EnsureHostUserAsync(string hostId, CancellationToken ct)
    {
        CheckHostId(hostId);
        var user = UserName(hostId);
        var stored = await secrets.GetOrAddAsync(SecretName(hostId), NewPassword, ct);
        var password = Encoding.UTF8.GetString(stored);

        // No tags: the user cannot log in to the management API at all.
        await SendAsync(HttpMethod.Put, $"api/users/{Uri.EscapeDataString(user)}", new { password, tags = "" }, ct, password);
        await SendAsync(
            HttpMethod.Put,
            $"api/permissions/{Uri.EscapeDataString(options.VirtualHost)}/{Uri.EscapeDataString(user)}",
            new { configure = "^$", write = "^$", read = ReadPattern(hostId) },
            ct);
        LogUserEnsured(logger, user, options.VirtualHost);
        return new BrokerCredentials(user, password);
    }

    /// <summary>Deletes the host's user (RabbitMQ closes its open connections) and its stored password; true if the user existed.</summary>
    public async Task<bool> DeleteHostUserAsync(string hostId, CancellationToken ct)
    {
        CheckHostId(hostId);
        var user = UserName(hostId);
        var existed = await SendAsync(HttpMethod.Delete, $"api/users/{Uri.EscapeDataString(user)}", null, ct, notFoundIsGone: true);
        await secrets.DeleteAsync(SecretName(hostId), ct);
        LogUserDeleted(logger, user, existed);
        return existed;
    }

    /// <summary>Cleanup after a failed enrollment: never throws, so the original failure is what the caller sees.</summary>
    public async Task TryDeleteHostUserAsync(string hostId)
    {
        try
        {
            await DeleteHostUserAsync(hostId, CancellationToken.None);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogCleanupFailed(logger, UserName(hostId), e.Message);
        }
    }

    /// <summary>Deletes the host's command queue and whatever is still in it; true if it existed.</summary>
    public async Task<bool> DeleteHostQueueAsync(string hostId, CancellationToken ct)
    {
        CheckHostId(hostId);
        var queue = HostCommandPublisher.QueueName(hostId);
        return await SendAsync(
            HttpMethod.Delete, $"api/queues/{Uri.EscapeDataString(options.VirtualHost)}/{Uri.EscapeDataString(queue)}", null, ct, notFoundIsGone: true);
    }

    public void Dispose() => http.Dispose();

    private static byte[] NewPassword() => Encoding.UTF8.GetBytes(Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32)));

    private static void CheckHostId(string hostId)
    {
        // Host ids go into a user name, a URL and a permission regex: only the generated form is accepted.
        if (!Validation.IsId(hostId, 'h'))
        {
            throw new ArgumentException($"'{ProfileRules.Printable(hostId)}' is not a host id (like h-3kq9t2mzpa)", nameof(hostId));
        }
    }

    /// <summary>Sends one request; false when the thing was already gone (404 and <paramref name="notFoundIsGone"/>).</summary>
    private async Task<bool> SendAsync(
        HttpMethod method, string path, object? body, CancellationToken ct, string? secret = null, bool notFoundIsGone = false)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, ct);
        }
        catch (HttpRequestException e)
        {
            throw new BrokerManagementException(
                $"RabbitMQ management API at {http.BaseAddress} cannot be reached ({e.Message}) for {method} /{Readable(path)}; "
                + "enable it with `rabbitmq-plugins enable rabbitmq_management` or set Broker:ManagementUrl", e);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new BrokerManagementException(
                $"RabbitMQ management API at {http.BaseAddress} did not answer {method} /{Readable(path)} within {RequestTimeout.TotalSeconds:0} s; "
                + "check that RabbitMQ is running and not blocked by a memory or disk alarm (`rabbitmq-diagnostics alarms`)", e);
        }

        using (response)
        {
            if (response.IsSuccessStatusCode)
            {
                return true;
            }

            if (response.StatusCode == HttpStatusCode.NotFound && notFoundIsGone)
            {
                return false;
            }

            var reason = await ReadReasonAsync(response, ct);
            if (secret is not null)
            {
                reason = reason.Replace(secret, "***", StringComparison.Ordinal);
            }

            throw new BrokerManagementException(
                $"RabbitMQ management API refused {method} /{Readable(path)}: {(int)response.StatusCode} {response.ReasonPhrase}{reason}; {Fix(response.StatusCode)}");
        }
    }

    private string Fix(HttpStatusCode status) => status switch
    {
        HttpStatusCode.Unauthorized => $"check Broker:Username/Broker:Password (user '{options.Username}')",
        HttpStatusCode.Forbidden =>
            $"the controller's broker user needs the administrator tag: `rabbitmqctl set_user_tags {options.Username} administrator`",
        HttpStatusCode.NotFound =>
            $"virtual host '{options.VirtualHost}' does not exist; create it (`rabbitmqctl add_vhost {options.VirtualHost}`) or fix Broker:VirtualHost",
        _ => "check RabbitMQ's log (journalctl -u rabbitmq-server) and try again",
    };

    /// <summary>RabbitMQ answers errors as {"error": ..., "reason": ...}; only a bounded reason is kept.</summary>
    private static async Task<string> ReadReasonAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
            return json.RootElement.TryGetProperty("reason", out var reason) && reason.ValueKind == JsonValueKind.String
                ? " (" + ProfileRules.Printable(reason.GetString() ?? "") + ")"
                : "";
        }
        catch (JsonException)
        {
            return "";
        }
    }

    /// <summary>Paths hold only names (users, queues, the vhost), never a password: shown decoded for reading.</summary>
    private static string Readable(string path) => Uri.UnescapeDataString(path);

    [LoggerMessage(Level = LogLevel.Information, Message = "Broker user {User} may read only its own queue on vhost {VirtualHost}")]
    private static partial void LogUserEnsured(ILogger logger, string user, string virtualHost);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Broker user {User} of a failed enrollment could not be deleted ({Error}); delete it by hand with `rabbitmqctl delete_user`")]
    private static partial void LogCleanupFailed(ILogger logger, string user, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Broker user {User} deleted (existed={Existed})")]
    private static partial void LogUserDeleted(ILogger logger, string user, bool existed);
}

/// <summary>RabbitMQ's management API failed or refused; the message names the request, the status and the fix.</summary>
internal sealed class BrokerManagementException(string message, Exception? inner = null) : Exception(message, inner);
