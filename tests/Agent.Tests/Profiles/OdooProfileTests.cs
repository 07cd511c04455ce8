using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Transport;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Tests.Profiles;

public sealed class OdooProfileTests
{
    private static readonly string Commit = new('c', 40);

    private static ProfileEnvironment Environment(HttpClient http) =>
        new(new HostPaths("/tmp/not-used"), new ProcessCommandRunner(), http, TimeProvider.System);

    private static DesiredHost Host(string series = "18.0", string commit = "", string url = "file:///srv/odoo.git") =>
        new HostSpec
        {
            HostId = "h_1",
            Generation = 3,
            Odoo = new OdooSpec { Release = new OdooRelease { Series = series, Commit = commit.Length > 0 ? commit : Commit }, SourceUrl = url },
        }.ToDomain();

    [Fact]
    public void Compile_WithRelease_BuildsOrderedGraphOfTheSkeletonResources()
    {
        using var http = new HttpClient();
        var ordered = ConvergeEngine.Order(OdooProfile.Compile(Host(), Environment(http)));
        Assert.Equal(
            [
                "user:odoo", "directory:/opt/odoo", "directory:/opt/odoo/releases", "directory:/var/lib/odoo", "directory:/var/log/odoo",
                $"release:18.0-{Commit}", "file:/etc/odoo.conf", "symlink:/opt/odoo/current", "file:/etc/systemd/system/odoo.service",
                "service:odoo.service", "health:odoo",
            ],
            ordered.Select(r => r.Id));
    }

    [Fact]
    public void Compile_NoRelease_NothingToConverge()
    {
        using var http = new HttpClient();
        var host = new HostSpec { HostId = "h_1", Generation = 1, Odoo = new OdooSpec() }.ToDomain();
        Assert.Empty(OdooProfile.Compile(host, Environment(http)));
        Assert.Equal(8069, host.Odoo.HttpPort);
        Assert.Equal(8072, host.Odoo.GeventPort);
    }

    [Fact]
    public void Compile_BadCommit_ThrowsWithFieldName()
    {
        using var http = new HttpClient();
        var e = Assert.Throws<SpecValidationException>(() => OdooProfile.Compile(Host(commit: "HEAD"), Environment(http)));
        Assert.Contains(e.Errors, m => m.StartsWith("odoo.release.commit:", StringComparison.Ordinal));
    }

    [Fact]
    public void RunningRelease_CurrentLinkToRelease_ParsesSeriesAndCommit()
    {
        using var root = new TempDirectory();
        Directory.CreateDirectory(root.Combine("opt", "odoo"));
        File.CreateSymbolicLink(root.Combine("opt", "odoo", "current"), $"/opt/odoo/releases/18.0-{Commit}");
        Assert.Equal(new ReleaseRef("18.0", Commit), OdooProfile.RunningRelease(new HostPaths(root.Path), OdooLayout.Default));
    }

    [Fact]
    public void RunningRelease_NoLink_IsNull()
    {
        using var root = new TempDirectory();
        Assert.Null(OdooProfile.RunningRelease(new HostPaths(root.Path), OdooLayout.Default));
    }
}
