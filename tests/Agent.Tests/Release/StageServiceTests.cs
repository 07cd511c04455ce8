using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Configuration;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Tests.Support;
using OdooFleet.Agent.Tests.Transport;
using OdooFleet.Agent.Transport;

namespace OdooFleet.Agent.Tests.Release;

/// <summary>StageService against a real Kestrel controller: artifact download, venv build from the release's wheelhouse, ReportStage.</summary>
public sealed class StageServiceTests : IDisposable
{
    private const string HostId = "h-5tg2mzpa9q";
    private const string Commit = "89abcdef0123456789abcdef0123456789abcdef";

    private readonly TestPki pki = new();
    private readonly TempDirectory temp = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        pki.Dispose();
        temp.Dispose();
    }

    [Fact]
    public async Task AnswerAsync_TwiceForOneRelease_StagesThenReportsAlreadyStaged()
    {
        var bytes = ArtifactFixture.Tarball(
            ("odoo-bin", "#!/bin/sh\n"), ("requirements.txt", "# no requirements\n"), ("wheelhouse/.keep", ""));
        var artifact = ArtifactFixture.Describe($"18.0-{Commit}.tar.gz", bytes);
        await using var controller = await TestAgentController.StartAsync(new FakeAgentService(HostId, pki), pki);
        controller.Service.Artifacts[$"18.0-{Commit}.tar.gz"] = bytes;
        var config = new AgentConfig
        {
            HostId = HostId,
            ControllerUrls = [controller.LocalhostAddress],
            Broker = new BrokerSettings { Host = "127.0.0.1", Username = "u", Password = "p", Queue = "q" },
            IdentityPath = temp.Combine("identity.pem"),
            CommandSigningKey = Convert.ToBase64String(pki.SigningKeySpki),
            CommandSigningKeyId = pki.SigningKeyId,
            StateDirectory = temp.Combine("state"),
        };
        var identity = new IdentityHolder(pki.HostIdentity(HostId, DateTimeOffset.UtcNow.AddMinutes(-1), TimeSpan.FromDays(7)), pki.Verifier());
        using var source = new ControllerArtifactSource(config, identity, TimeProvider.System, NullLogger<ControllerArtifactSource>.Instance);
        using var client = new ControllerClient(config, identity, TimeProvider.System, NullLogger<ControllerClient>.Instance);
        using var http = new HttpClient();
        var paths = new HostPaths(temp.Combine("root"));
        var environment = new ProfileEnvironment(paths, new ProcessCommandRunner(), http, TimeProvider.System, () => throw new InvalidOperationException("no facts needed"))
        {
            // The venv is built as the layout's user: root here, where no odoo user exists.
            Layout = OdooLayout.Default with { User = "root", Group = "root" },
            StateDirectory = config.StateDirectory,
            Artifacts = source,
        };
        var converger = new LocalConverger(
            environment, new ConvergeEngine(TimeProvider.System, NullLogger<ConvergeEngine>.Instance), temp.Combine("state", "converge.lock"),
            TimeProvider.System, NullLogger<LocalConverger>.Instance);
        var service = new StageService(config, client, converger, TimeProvider.System, NullLogger<StageService>.Instance);
        var request = new StageRequest("stage-1", new ReleaseRef("18.0", Commit), artifact, "r-1");

        await service.AnswerAsync(request, Ct);
        await service.AnswerAsync(request with { CommandId = "stage-2" }, Ct);

        var reports = controller.Service.StageReports.ToList();
        Assert.Equal(2, reports.Count);
        Assert.True(reports[0].Success, reports[0].Error);
        Assert.False(reports[0].AlreadyStaged);
        Assert.True(reports[1].Success, reports[1].Error);
        Assert.True(reports[1].AlreadyStaged);
        Assert.Equal(("stage-1", Commit), (reports[0].CommandId, reports[0].Release.Commit));
        var venv = paths.Resolve($"/opt/odoo/releases/18.0-{Commit}/.venv");
        Assert.Contains($"source = wheelhouse /opt/odoo/releases/18.0-{Commit}/wheelhouse", await File.ReadAllTextAsync(Path.Combine(venv, ".odoofleet-venv"), Ct), StringComparison.Ordinal);
        Assert.False(File.Exists(paths.Resolve("/opt/odoo/current")) || Directory.Exists(paths.Resolve("/opt/odoo/current")));
    }
}
