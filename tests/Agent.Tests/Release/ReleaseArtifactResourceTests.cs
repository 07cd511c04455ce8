using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Configuration;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Release;
using OdooFleet.Agent.Resources;
using OdooFleet.Agent.Tests.Support;
using OdooFleet.Agent.Tests.Transport;
using OdooFleet.Agent.Transport;

namespace OdooFleet.Agent.Tests.Release;

/// <summary>ReleaseArtifactResource downloading from a real Kestrel controller over mutual TLS, then tar.</summary>
public sealed class ReleaseArtifactResourceTests : IDisposable
{
    private const string HostId = "h-7rt2mzpa4k";
    private const string Releases = "/opt/odoo/releases";
    private const string Commit = "0123456789abcdef0123456789abcdef01234567";

    private static readonly ReleaseRef Release = new("18.0", Commit);

    private readonly TestPki pki = new();
    private readonly TempDirectory temp = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        pki.Dispose();
        temp.Dispose();
    }

    private ControllerArtifactSource Source(string url) => new(
        new AgentConfig
        {
            HostId = HostId,
            ControllerUrls = [url],
            Broker = new BrokerSettings { Host = "127.0.0.1", Username = "u", Password = "p", Queue = "q" },
            IdentityPath = temp.Combine("identity.pem"),
            CommandSigningKey = Convert.ToBase64String(pki.SigningKeySpki),
            CommandSigningKeyId = pki.SigningKeyId,
            StateDirectory = temp.Combine("state"),
        },
        new IdentityHolder(pki.HostIdentity(HostId, DateTimeOffset.UtcNow.AddMinutes(-1), TimeSpan.FromDays(7)), pki.Verifier()),
        TimeProvider.System,
        NullLogger<ControllerArtifactSource>.Instance);

    private static Task<ConvergeOutcome> RunAsync(IResource resource) =>
        new ConvergeEngine(TimeProvider.System, NullLogger<ConvergeEngine>.Instance).RunAsync([resource], ConvergeMode.Apply, Ct);

    [Fact]
    public async Task Apply_ArtifactServedByController_UnpacksVerifiedReleaseThenUnchanged()
    {
        var bytes = ArtifactFixture.Tarball(("odoo-bin", "#!/bin/sh\n"), ("addons/web/__manifest__.py", "{'version': '1.1'}\n"), ("wheelhouse/README", "wheels\n"));
        await using var controller = await TestAgentController.StartAsync(new FakeAgentService(HostId, pki), pki);
        controller.Service.Artifacts[$"18.0-{Commit}.tar.gz"] = bytes;
        using var source = Source(controller.LocalhostAddress);
        var paths = new HostPaths(temp.Combine("root"));
        var resource = new ReleaseArtifactResource(
            paths, new ProcessCommandRunner(), source, Releases, Release, ArtifactFixture.Describe($"18.0-{Commit}.tar.gz", bytes));

        var first = await RunAsync(resource);
        var second = await RunAsync(resource);

        Assert.Equal(ResourceStatus.Changed, first.Results[0].Status);
        Assert.Equal(ResourceStatus.Unchanged, second.Results[0].Status);
        var dir = paths.Resolve($"{Releases}/18.0-{Commit}");
        Assert.Equal("{'version': '1.1'}\n", await File.ReadAllTextAsync(Path.Combine(dir, "addons/web/__manifest__.py"), Ct));
        Assert.True(File.GetUnixFileMode(Path.Combine(dir, "odoo-bin")).HasFlag(UnixFileMode.UserExecute));
        Assert.True(Directory.Exists(Path.Combine(dir, "wheelhouse")));
        Assert.Equal([$"18.0-{Commit}"], Directory.GetFileSystemEntries(paths.Resolve(Releases)).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Apply_Sha256Mismatch_FailsNamingExpectedAndActualAndLeavesNothing()
    {
        var bytes = ArtifactFixture.Tarball(("odoo-bin", "#!/bin/sh\n"));
        var tampered = ArtifactFixture.Tarball(("odoo-bin", "#!/bin/sh\nrm -rf /\n"));
        var recorded = ArtifactFixture.Describe($"18.0-{Commit}.tar.gz", bytes) with { SizeBytes = tampered.Length };
        await using var controller = await TestAgentController.StartAsync(new FakeAgentService(HostId, pki), pki);
        controller.Service.Artifacts[$"18.0-{Commit}.tar.gz"] = tampered;
        using var source = Source(controller.LocalhostAddress);
        var paths = new HostPaths(temp.Combine("root"));

        var outcome = await RunAsync(new ReleaseArtifactResource(paths, new ProcessCommandRunner(), source, Releases, Release, recorded));

        var result = Assert.Single(outcome.Results);
        Assert.Equal(ResourceStatus.Failed, result.Status);
        Assert.Contains($"expected {recorded.Sha256}", result.Message, StringComparison.Ordinal);
        Assert.Contains(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(tampered)), result.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(paths.Resolve(Releases)));
    }

    [Fact]
    public async Task Apply_WrongSize_FailsAndLeavesNothing()
    {
        var bytes = ArtifactFixture.Tarball(("odoo-bin", "#!/bin/sh\n"));
        var recorded = ArtifactFixture.Describe($"18.0-{Commit}.tar.gz", bytes) with { SizeBytes = bytes.Length - 10 };
        await using var controller = await TestAgentController.StartAsync(new FakeAgentService(HostId, pki), pki);
        controller.Service.Artifacts[$"18.0-{Commit}.tar.gz"] = bytes;
        using var source = Source(controller.LocalhostAddress);
        var paths = new HostPaths(temp.Combine("root"));

        var outcome = await RunAsync(new ReleaseArtifactResource(paths, new ProcessCommandRunner(), source, Releases, Release, recorded));

        Assert.Equal(ResourceStatus.Failed, outcome.Results[0].Status);
        Assert.Contains($"more than the expected {bytes.Length - 10} bytes", outcome.Results[0].Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(paths.Resolve(Releases)));
    }

    [Fact]
    public async Task Apply_MemberEscapingTheRelease_RefusedBeforeUnpacking()
    {
        var bytes = ArtifactFixture.Tarball(("odoo-bin", "#!/bin/sh\n"), ("addons/../../../escaped", "x\n"));
        await using var controller = await TestAgentController.StartAsync(new FakeAgentService(HostId, pki), pki);
        controller.Service.Artifacts[$"18.0-{Commit}.tar.gz"] = bytes;
        using var source = Source(controller.LocalhostAddress);
        var paths = new HostPaths(temp.Combine("root"));

        var outcome = await RunAsync(new ReleaseArtifactResource(
            paths, new ProcessCommandRunner(), source, Releases, Release, ArtifactFixture.Describe($"18.0-{Commit}.tar.gz", bytes)));

        Assert.Equal(ResourceStatus.Failed, outcome.Results[0].Status);
        Assert.Contains("'..' segment", outcome.Results[0].Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(paths.Resolve(Releases)));
        Assert.False(File.Exists(temp.Combine("escaped")));
        Assert.False(File.Exists(paths.Resolve("/opt/escaped")));
    }

    [Fact]
    public async Task Apply_ControllerWithoutTheFile_FailsNamingThePath()
    {
        await using var controller = await TestAgentController.StartAsync(new FakeAgentService(HostId, pki), pki);
        using var source = Source(controller.LocalhostAddress);
        var paths = new HostPaths(temp.Combine("root"));
        var bytes = ArtifactFixture.Tarball(("odoo-bin", "#!/bin/sh\n"));

        var outcome = await RunAsync(new ReleaseArtifactResource(
            paths, new ProcessCommandRunner(), source, Releases, Release, ArtifactFixture.Describe($"18.0-{Commit}.tar.gz", bytes)));

        Assert.Equal(ResourceStatus.Failed, outcome.Results[0].Status);
        Assert.Contains($"/releases/18.0-{Commit}.tar.gz", outcome.Results[0].Message, StringComparison.Ordinal);
        Assert.Contains("HTTP 404", outcome.Results[0].Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("odoo-bin", null)]
    [InlineData("addons/web/__manifest__.py", null)]
    [InlineData("./addons/", null)]
    [InlineData("a..b/c", null)]
    [InlineData("/etc/passwd", "absolute path")]
    [InlineData("../evil", "'..' segment")]
    [InlineData("addons/../../evil", "'..' segment")]
    [InlineData("addons/..", "'..' segment")]
    public void FindUnsafe_Member_AcceptedOrRefusedWithReason(string member, string? reason)
    {
        var found = TarMembers.FindUnsafe(["odoo-bin", member, ""]);

        if (reason is null)
        {
            Assert.Null(found);
        }
        else
        {
            Assert.Contains(reason, found, StringComparison.Ordinal);
        }
    }
}
