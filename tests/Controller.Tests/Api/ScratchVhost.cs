using System.Net.Http.Headers;
using System.Text;
using OdooFleet.Controller.Hosting;

namespace OdooFleet.Controller.Tests.Api;

/// <summary>
/// A fresh RabbitMQ virtual host on the broker named by OF_TEST_MQ (its user must be an
/// administrator), made through the management API and deleted with everything in it on dispose:
/// tests never leave queues on a shared broker.
/// </summary>
internal sealed class ScratchVhost : IAsyncDisposable
{
    public const string BrokerVariable = "OF_TEST_MQ";
    public const string ManagementVariable = "OF_TEST_MQ_MANAGEMENT";

    private readonly HttpClient management;

    private ScratchVhost(HttpClient management, BrokerOptions broker)
    {
        this.management = management;
        Broker = broker;
    }

    public BrokerOptions Broker { get; }

    public static async Task<ScratchVhost> CreateAsync(CancellationToken ct)
    {
        var url = Environment.GetEnvironmentVariable(BrokerVariable);
        if (string.IsNullOrWhiteSpace(url))
        {
            throw new InvalidOperationException(
                $"{BrokerVariable} is not set: enrollment tests declare the host's queue on a real RabbitMQ. "
                + $"Set e.g. {BrokerVariable}='amqp://odoofleet:PASSWORD@127.0.0.1:5672/%2Fodoofleet' (an administrator user; "
                + $"the management API at http://HOST:15672, or set {ManagementVariable}).");
        }

        var uri = new Uri(url);
        var credentials = uri.UserInfo.Split(':', 2);
        var user = Uri.UnescapeDataString(credentials[0]);
        var password = credentials.Length > 1 ? Uri.UnescapeDataString(credentials[1]) : "";
        // The name is generated here, never taken from input.
        var vhost = "of_test_" + Guid.NewGuid().ToString("N");
        var client = new HttpClient { BaseAddress = new Uri(Environment.GetEnvironmentVariable(ManagementVariable) ?? $"http://{uri.Host}:15672/") };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        try
        {
            (await client.PutAsync($"api/vhosts/{vhost}", Json("{}"), ct)).EnsureSuccessStatusCode();
            (await client.PutAsync(
                $"api/permissions/{vhost}/{Uri.EscapeDataString(user)}", Json("""{"configure":".*","write":".*","read":".*"}"""), ct)).EnsureSuccessStatusCode();
        }
        catch
        {
            client.Dispose();
            throw;
        }

        return new ScratchVhost(client, new BrokerOptions
        {
            Host = uri.Host,
            Port = uri.Port > 0 ? uri.Port : 5672,
            VirtualHost = vhost,
            Username = user,
            Password = password,
        });
    }

    public async ValueTask DisposeAsync()
    {
        using (management)
        {
            await management.DeleteAsync($"api/vhosts/{Broker.VirtualHost}");
        }
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}
