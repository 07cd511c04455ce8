using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Agent.Configuration;
using OdooFleet.Agent.Tests.Support;
using OdooFleet.Agent.Transport;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Tests.Transport;

/// <summary>ControllerClient and CertificateRenewer against a real Kestrel AgentService over mutual TLS.</summary>
public sealed class ControllerClientTests : IDisposable
{
    private const string HostId = "h-3kq9t2mzpa";

    private readonly TestPki pki = new();
    private readonly TestPki impostor = new("impostor CA");
    private readonly TempDirectory etc = new();

    // Retries back off on the (fake) clock and never give up: a broken handshake would hang without a deadline.
    private readonly CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);

    public ControllerClientTests() => deadline.CancelAfter(TimeSpan.FromSeconds(60));

    private CancellationToken Ct => deadline.Token;

    public void Dispose()
    {
        deadline.Dispose();
        pki.Dispose();
        impostor.Dispose();
        etc.Dispose();
    }

    private AgentConfig Config(string url) => new()
    {
        HostId = HostId,
        ControllerUrls = [url],
        Broker = new BrokerSettings { Host = "127.0.0.1", Username = "u", Password = "p", Queue = "q" },
        IdentityPath = etc.Combine("agent-identity.pem"),
        CommandSigningKey = Convert.ToBase64String(pki.SigningKeySpki),
        CommandSigningKeyId = pki.SigningKeyId,
        StateDirectory = etc.Combine("state"),
    };

    private IdentityHolder Holder(DateTimeOffset notBefore, TimeSpan lifetime) =>
        new(pki.HostIdentity(HostId, notBefore, lifetime), pki.Verifier());

    [Fact]
    public async Task FetchSpecAsync_ServerFromTheFleetCa_AnswersAndSeesOurCertificate()
    {
        await using var controller = await TestAgentController.StartAsync(new FakeAgentService(HostId, pki), pki);
        var holder = Holder(DateTimeOffset.UtcNow.AddMinutes(-1), TimeSpan.FromDays(7));
        using var client = new ControllerClient(Config(controller.LocalhostAddress), holder, TimeProvider.System, NullLogger<ControllerClient>.Instance);

        var spec = await client.FetchSpecAsync(HostId, TimeProvider.System, NullLogger.Instance, Ct);

        Assert.Equal(HostId, spec.HostId);
        Assert.Equal(holder.Identity.Certificate.SerialNumber, Assert.Single(controller.Service.CallerSerials));
    }

    [Fact]
    public async Task Call_ServerFromAnotherCa_RefusedBeforeAnythingIsSent()
    {
        // The impostor accepts our client certificate; the agent must still refuse its server certificate.
        await using var controller = await TestAgentController.StartAsync(new FakeAgentService(HostId, impostor), impostor, clientPki: pki);
        var logger = new ListLogger<ControllerClient>();
        using var client = new ControllerClient(
            Config(controller.Address), Holder(DateTimeOffset.UtcNow.AddMinutes(-1), TimeSpan.FromDays(7)), TimeProvider.System, logger);

        var e = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.Client.GetHostSpecAsync(new GetHostSpecRequest { HostId = HostId }, deadline: DateTime.UtcNow.AddSeconds(20), cancellationToken: Ct));

        Assert.True(ControllerClient.IsTransient(e), e.StatusCode.ToString());
        Assert.Contains(logger.Messages, m => m.Contains("does not chain to the fleet CA", StringComparison.Ordinal));
        Assert.Empty(controller.Service.CallerSerials);
    }

    [Fact]
    public async Task Call_UrlHostNotInServerCertificate_Refused()
    {
        // A fleet certificate, but for another name (and 127.0.0.1): reached as "localhost" it does not match.
        await using var controller = await TestAgentController.StartAsync(new FakeAgentService(HostId, pki), pki, serverName: "fleet.example.com");
        var logger = new ListLogger<ControllerClient>();
        using var client = new ControllerClient(
            Config(controller.LocalhostAddress), Holder(DateTimeOffset.UtcNow.AddMinutes(-1), TimeSpan.FromDays(7)), TimeProvider.System, logger);

        await Assert.ThrowsAsync<RpcException>(async () =>
            await client.Client.GetHostSpecAsync(new GetHostSpecRequest { HostId = HostId }, deadline: DateTime.UtcNow.AddSeconds(20), cancellationToken: Ct));

        Assert.Contains(logger.Messages, m => m.Contains("not for the host name in the URL", StringComparison.Ordinal));
        Assert.Empty(controller.Service.CallerSerials);
    }

    [Fact]
    public async Task StepAsync_TwoThirdsOfLifetimePassed_RenewsWritesIdentityAndNewCallsPresentTheNewCertificate()
    {
        await using var controller = await TestAgentController.StartAsync(new FakeAgentService(HostId, pki), pki);
        var configPath = etc.Combine("agent.json");
        var config = Config(controller.LocalhostAddress);
        await config.SaveAsync(configPath, Ct);
        var notBefore = DateTimeOffset.UtcNow.AddMinutes(-1);
        var holder = Holder(notBefore, TimeSpan.FromDays(7));
        await holder.Identity.SaveAsync(config.IdentityPath, Ct);
        var oldSerial = holder.Identity.Certificate.SerialNumber;
        // The agent's clock says 5 days in: due. The renewed certificate is issued on the server's (real) clock.
        var time = new FakeTimeProvider(notBefore.AddDays(5));
        using var client = new ControllerClient(config, holder, time, NullLogger<ControllerClient>.Instance);
        await client.FetchSpecAsync(HostId, time, NullLogger.Instance, Ct);
        using var renewer = new CertificateRenewer(config, configPath, holder, client, time, NullLogger<CertificateRenewer>.Instance);

        await renewer.StepAsync(Ct);

        var renewed = holder.Identity.Certificate;
        Assert.NotEqual(oldSerial, renewed.SerialNumber);
        Assert.Equal([FleetTrust.HostUriPrefix + HostId], FleetTrust.SanUris(renewed));
        using (var onDisk = await Configuration.AgentIdentity.LoadAsync(config.IdentityPath, Ct))
        {
            Assert.Equal(renewed.RawData, onDisk.Certificate.RawData);
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(config.IdentityPath));
        await client.FetchSpecAsync(HostId, time, NullLogger.Instance, Ct);
        // Fetch, renewal (both with the old certificate), then the fetch after the renewal with the new one.
        Assert.Equal([oldSerial, oldSerial, renewed.SerialNumber], controller.Service.CallerSerials);
    }

    [Fact]
    public async Task StepAsync_NotDue_WaitsOnTheTimeProviderWithoutCallingTheController()
    {
        await using var controller = await TestAgentController.StartAsync(new FakeAgentService(HostId, pki), pki);
        var config = Config(controller.LocalhostAddress);
        var notBefore = DateTimeOffset.UtcNow.AddMinutes(-1);
        var holder = Holder(notBefore, TimeSpan.FromDays(7));
        var serial = holder.Identity.Certificate.SerialNumber;
        var time = new FakeTimeProvider(notBefore.AddDays(1));
        using var client = new ControllerClient(config, holder, time, NullLogger<ControllerClient>.Instance);
        using var renewer = new CertificateRenewer(config, etc.Combine("agent.json"), holder, client, time, NullLogger<CertificateRenewer>.Instance);

        var step = renewer.StepAsync(Ct);
        time.Advance(TimeSpan.FromMinutes(59));
        Assert.False(step.IsCompleted);
        time.Advance(TimeSpan.FromMinutes(1));
        await step.WaitAsync(TimeSpan.FromSeconds(10), Ct);

        Assert.Equal(serial, holder.Identity.Certificate.SerialNumber);
        Assert.Empty(controller.Service.CallerSerials);
    }
}
