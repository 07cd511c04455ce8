using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OdooFleet.Controller.Hosting;
using OdooFleet.Controller.Messaging;
using OdooFleet.Controller.Secrets;
using OdooFleet.Controller.Tests.Persistence;
using RabbitMQ.Client;
using Xunit;

namespace OdooFleet.Controller.Tests.Messaging;

/// <summary>
/// A scratch virtual host on the RabbitMQ named by <c>OF_TEST_MQ</c> (its management API on port
/// 15672), made for one test class and deleted afterwards with every host user the tests left on it,
/// so tests never touch the stack's own vhost.
/// </summary>
public sealed class BrokerFixture : IAsyncLifetime
{
    public const string EnvironmentVariable = "OF_TEST_MQ";

    private HttpClient? management;

    internal BrokerOptions Options { get; private set; } = new();

    public async ValueTask InitializeAsync()
    {
        var url = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (string.IsNullOrWhiteSpace(url))
        {
            throw new InvalidOperationException(
                $"{EnvironmentVariable} is not set: these tests need a real RabbitMQ with the management plugin and an administrator user. "
                + $"Set e.g. {EnvironmentVariable}='amqp://odoofleet:PASSWORD@127.0.0.1:5672/%2Fodoofleet' "
                + "(`rabbitmq-plugins enable rabbitmq_management`, `rabbitmqctl set_user_tags odoofleet administrator`).");
        }

        var uri = new Uri(url);
        var credentials = uri.UserInfo.Split(':', 2);
        Options = new BrokerOptions
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5672 : uri.Port,
            Username = Uri.UnescapeDataString(credentials[0]),
            Password = Uri.UnescapeDataString(credentials.Length > 1 ? credentials[1] : ""),
            VirtualHost = "/of-test-" + Guid.NewGuid().ToString("N"),
        };
        management = new HttpClient { BaseAddress = Options.ManagementUri, Timeout = TimeSpan.FromSeconds(15) };
        management.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Options.Username}:{Options.Password}")));

        (await management.PutAsJsonAsync(VhostPath("vhosts"), new { description = "OdooFleet test run" })).EnsureSuccessStatusCode();
        (await management.PutAsJsonAsync(
            $"{VhostPath("permissions")}/{Uri.EscapeDataString(Options.Username)}",
            new { configure = ".*", write = ".*", read = ".*" })).EnsureSuccessStatusCode();
    }

    internal BrokerUsers NewBrokerUsers(TestDatabase database) =>
        new(Microsoft.Extensions.Options.Options.Create(Options), NewSecretStore(database), NullLogger<BrokerUsers>.Instance);

    internal static SecretStore NewSecretStore(TestDatabase database) =>
        new(database.DataSource, SecretKeys, TimeProvider.System, NullLogger<SecretStore>.Instance);

    /// <summary>One key for the whole test run: several stores over one database must open each other's rows.</summary>
    private static readonly SecretKeyRing SecretKeys = new(new SecretKey(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)), []);

    internal HostCommandPublisher NewPublisher(CommandSigner signer, TimeProvider time) =>
        new(Microsoft.Extensions.Options.Options.Create(Options), signer, time, NullLogger<HostCommandPublisher>.Instance);

    /// <summary>A connection to the scratch vhost as <paramref name="user"/>.</summary>
    internal Task<IConnection> ConnectAsync(string user, string password, CancellationToken ct) =>
        new ConnectionFactory
        {
            HostName = Options.Host,
            Port = Options.Port,
            VirtualHost = Options.VirtualHost,
            UserName = user,
            Password = password,
            AutomaticRecoveryEnabled = false,
            ClientProvidedName = "odoofleet-tests",
        }.CreateConnectionAsync(ct);

    public async ValueTask DisposeAsync()
    {
        if (management is null)
        {
            return;
        }

        // Users are not per vhost: host users a failed test left behind are found by their permissions here.
        using (var permissions = await management.GetAsync($"{VhostPath("vhosts")}/permissions"))
        {
            if (permissions.IsSuccessStatusCode)
            {
                using var json = JsonDocument.Parse(await permissions.Content.ReadAsStringAsync());
                foreach (var entry in json.RootElement.EnumerateArray())
                {
                    var user = entry.GetProperty("user").GetString() ?? "";
                    if (user.StartsWith(BrokerUsers.UserPrefix, StringComparison.Ordinal))
                    {
                        (await management.DeleteAsync($"api/users/{Uri.EscapeDataString(user)}")).Dispose();
                    }
                }
            }
        }

        (await management.DeleteAsync(VhostPath("vhosts"))).Dispose();
        management.Dispose();
    }

    private string VhostPath(string collection) => $"api/{collection}/{Uri.EscapeDataString(Options.VirtualHost)}";
}
