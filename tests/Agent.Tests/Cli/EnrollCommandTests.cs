using System.Security.Cryptography;
using Google.Protobuf;
using Grpc.Core;
using OdooFleet.Agent.Cli;
using OdooFleet.Agent.Tests.Support;
using OdooFleet.Agent.Tests.Transport;
using OdooFleet.Agent.Transport;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Tests.Cli;

/// <summary>Enrollment's inputs and its pinned TLS, against a real Kestrel AgentService.</summary>
public sealed class EnrollCommandTests : IDisposable
{
    private const string HostId = "h-3kq9t2mzpa";

    private readonly TestPki pki = new();
    private readonly TestPki impostor = new("impostor CA");
    private readonly TempDirectory temp = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        pki.Dispose();
        impostor.Dispose();
        temp.Dispose();
    }

    [Theory]
    [InlineData("http://fleet.example.com:5001", "the agent endpoint is https")]
    [InlineData("ftp://fleet.example.com:5001", "scheme must be http or https")]
    [InlineData("https://user:pw@fleet.example.com:5001", "must not contain credentials")]
    public void CheckUrl_NotHttpsControllerUrl_ExplainsTheFix(string url, string expected) =>
        Assert.Contains(expected, EnrollCommand.CheckUrl(url), StringComparison.Ordinal);

    [Fact]
    public void CheckUrl_Https_Accepted() => Assert.Null(EnrollCommand.CheckUrl("https://fleet.example.com:5001"));

    [Fact]
    public void ReadPin_Neither_UsageErrorSaysWhy() =>
        Assert.Contains("--ca-sha256 HEX", Assert.Throws<UsageException>(() => EnrollCommand.ReadPin(null, null)).Message, StringComparison.Ordinal);

    [Fact]
    public async Task ReadPin_CaFile_PinOfThatCertificate()
    {
        var path = temp.Combine("ca.pem");
        await File.WriteAllTextAsync(path, pki.CaPublic.ExportCertificatePem(), Ct);

        using var fromFile = EnrollCommand.ReadPin(null, path);
        Assert.Equal(pki.Pin, fromFile.Sha256);
        Assert.Equal(pki.Ca.RawData, fromFile.Certificate!.RawData);
        using var both = EnrollCommand.ReadPin(Convert.ToHexString(pki.Pin), path);
        Assert.Equal(pki.Pin, both.Sha256);
    }

    [Fact]
    public async Task ReadPin_CaFileAndOtherPin_Disagree()
    {
        var path = temp.Combine("ca.pem");
        await File.WriteAllTextAsync(path, pki.CaPublic.ExportCertificatePem(), Ct);

        Assert.Contains("disagree", Assert.Throws<UsageException>(() => EnrollCommand.ReadPin(Convert.ToHexString(impostor.Pin), path)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadPin_CaFileHoldsALeafCertificate_Refused()
    {
        var path = temp.Combine("server.pem");
        using var server = pki.IssueServer();
        await File.WriteAllTextAsync(path, server.ExportCertificatePem(), Ct);

        Assert.Contains("is not a CA certificate", Assert.Throws<UsageException>(() => EnrollCommand.ReadPin(null, path)).Message, StringComparison.Ordinal);
    }

    private static EnrollRequest Request(ECDsa key) => new()
    {
        Token = FakeAgentService.Token,
        Name = "web-01",
        Csr = ByteString.CopyFrom(FleetTrust.CreateCsr(key, "web-01")),
    };

    [Fact]
    public async Task PinnedTls_ControllerOfThePinnedCa_EnrollsAndTheIdentityChecks()
    {
        await using var controller = await TestAgentController.StartAsync(new FakeAgentService(HostId, pki), pki);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string? refusal = null;
        using var channel = ControllerClient.CreateChannel(controller.LocalhostAddress, EnrollCommand.PinnedTls(new CaPin(pki.Pin, null), r => refusal = r));

        EnrollResponse response;
        try
        {
            response = await new AgentService.AgentServiceClient(channel).EnrollAsync(Request(key), deadline: DateTime.UtcNow.AddSeconds(20), cancellationToken: Ct);
        }
        catch (RpcException)
        {
            Assert.Fail(refusal);
            throw;
        }

        Assert.Null(refusal);
        var verified = FleetTrust.CheckIdentity(response.Identity, pki.Pin, key, response.HostId, DateTimeOffset.UtcNow);
        Assert.Equal(HostId, response.HostId);
        Assert.Equal(pki.SigningKeyId, verified.CommandSigningKeyId);
    }

    [Fact]
    public async Task PinnedTls_ImpostorController_RefusedBeforeTheTokenIsSent()
    {
        var impostorService = new FakeAgentService(HostId, impostor);
        await using var controller = await TestAgentController.StartAsync(impostorService, impostor);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string? refusal = null;
        using var channel = ControllerClient.CreateChannel(controller.LocalhostAddress, EnrollCommand.PinnedTls(new CaPin(pki.Pin, null), r => refusal = r));

        await Assert.ThrowsAsync<RpcException>(async () =>
            await new AgentService.AgentServiceClient(channel).EnrollAsync(Request(key), deadline: DateTime.UtcNow.AddSeconds(20), cancellationToken: Ct));

        Assert.Contains("no certificate the server presented has the pinned SHA-256", refusal, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PinnedTls_SelfSignedCaWithPinOnly_RefusedSinceTlsServersDoNotSendTheRoot()
    {
        using var selfSigned = new TestPki("self-signed CA", anchored: false);
        await using var controller = await TestAgentController.StartAsync(new FakeAgentService(HostId, selfSigned), selfSigned);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string? refusal = null;
        using var channel = ControllerClient.CreateChannel(controller.LocalhostAddress, EnrollCommand.PinnedTls(new CaPin(selfSigned.Pin, null), r => refusal = r));

        await Assert.ThrowsAsync<RpcException>(async () =>
            await new AgentService.AgentServiceClient(channel).EnrollAsync(Request(key), deadline: DateTime.UtcNow.AddSeconds(20), cancellationToken: Ct));

        Assert.Contains("give it with --ca-file", refusal, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PinnedTls_SelfSignedCaGivenAsCaFile_Enrolls()
    {
        using var selfSigned = new TestPki("self-signed CA", anchored: false);
        await using var controller = await TestAgentController.StartAsync(new FakeAgentService(HostId, selfSigned), selfSigned);
        var path = temp.Combine("ca.pem");
        await File.WriteAllTextAsync(path, selfSigned.CaPublic.ExportCertificatePem(), Ct);
        using var pin = EnrollCommand.ReadPin(null, path);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string? refusal = null;
        using var channel = ControllerClient.CreateChannel(controller.LocalhostAddress, EnrollCommand.PinnedTls(pin, r => refusal = r));

        var response = await new AgentService.AgentServiceClient(channel).EnrollAsync(Request(key), deadline: DateTime.UtcNow.AddSeconds(20), cancellationToken: Ct);

        Assert.Null(refusal);
        Assert.Equal(HostId, FleetTrust.CheckIdentity(response.Identity, pin.Sha256, key, response.HostId, DateTimeOffset.UtcNow).Certificate.Subject[3..]);
    }
}
