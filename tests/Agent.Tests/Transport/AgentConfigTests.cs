using OdooFleet.Agent.Configuration;

namespace OdooFleet.Agent.Tests.Transport;

public sealed class AgentConfigTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static AgentConfig Sample() => new()
    {
        HostId = "h_1",
        ControllerUrls = ["https://a:5001"],
        IdentityPath = "/etc/odoofleet/agent-identity.pem",
        CommandSigningKey = Convert.ToBase64String([1, 2, 3]),
        CommandSigningKeyId = "0011223344556677",
        Broker = new BrokerSettings { Host = "mq", Username = "u", Password = "p", Queue = "fleet.host.h_1" },
    };

    [Fact]
    public async Task SaveAsync_NewDirectory_FileIs0600AndDirectory0700AndRoundTrips()
    {
        using var temp = new TempDirectory();
        var path = temp.Combine("etc", "odoofleet", "agent.json");
        await Sample().SaveAsync(path, Ct);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(path)!));
        var loaded = await AgentConfig.LoadAsync(path, Ct);
        Assert.Equal("h_1", loaded.HostId);
        Assert.Equal(["https://a:5001"], loaded.ControllerUrls);
        Assert.Equal("fleet.host.h_1", loaded.Broker.Queue);
        Assert.Equal(5672, loaded.Broker.Port);
        Assert.Equal("/etc/odoofleet/agent-identity.pem", loaded.IdentityPath);
        Assert.Equal("0011223344556677", loaded.CommandSigningKeyId);
    }

    [Fact]
    public async Task LoadAsync_ConfigWithAgentSecretFromBeforeCertificates_SaysToReEnroll()
    {
        using var temp = new TempDirectory();
        var path = temp.Combine("agent.json");
        await File.WriteAllTextAsync(
            path,
            """{"hostId":"h_1","agentSecret":"ofa_x","controllerUrls":["https://a:5001"],"broker":{"host":"mq","username":"u","password":"p","queue":"q"}}""",
            Ct);

        var e = await Assert.ThrowsAsync<ConfigException>(() => AgentConfig.LoadAsync(path, Ct));

        Assert.Contains("re-enroll with --force", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("ofa_x", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoadAsync_HttpControllerUrl_RefusedNamingTheUrl()
    {
        using var temp = new TempDirectory();
        var path = temp.Combine("agent.json");
        await (Sample() with { ControllerUrls = ["http://a:5001"] }).SaveAsync(path, Ct);

        var e = await Assert.ThrowsAsync<ConfigException>(() => AgentConfig.LoadAsync(path, Ct));

        Assert.Contains("'http://a:5001' is not https", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void IdentityPathBeside_ConfigPath_SameDirectory() =>
        Assert.Equal("/etc/odoofleet/agent-identity.pem", AgentConfig.IdentityPathBeside("/etc/odoofleet/agent.json"));

    [Fact]
    public async Task LoadAsync_Missing_SaysHowToEnroll()
    {
        using var temp = new TempDirectory();
        var e = await Assert.ThrowsAsync<ConfigException>(() => AgentConfig.LoadAsync(temp.Combine("agent.json"), Ct));
        Assert.Contains("odoofleet-agent enroll", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MergeControllerUrls_Overlapping_UnionInFirstSeenOrder() =>
        Assert.Equal(
            ["https://a:5001", "https://b:5001", "https://c:5001"],
            AgentConfig.MergeControllerUrls(["https://a:5001", "https://b:5001/"], ["https://B:5001", "https://c:5001", "https://a:5001"]));
}
