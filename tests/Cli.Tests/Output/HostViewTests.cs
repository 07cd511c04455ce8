using System.Text.Json;
using OdooFleet.Cli.Output;
using OdooFleet.Cli.Tests.Support;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Tests.Output;

public sealed class HostViewTests
{
    [Fact]
    public void ToJson_Hosts_StablePropertyNamesAndValues()
    {
        using var doc = JsonDocument.Parse(JsonSerializer.Serialize(
            HostView.ToJson([Samples.OnlineHost(), Samples.SilentHost()]), OutputJsonContext.Default.IReadOnlyListHostJson));

        var online = doc.RootElement[0];
        Assert.Equal(
            ["id", "name", "address", "state", "desiredGeneration", "appliedGeneration", "odoo", "lastSeen", "enrolledAt",
                "lastConvergeSuccess", "lastConvergeError", "metrics", "tenants", "tenantRoom"],
            online.EnumerateObject().Select(p => p.Name));
        Assert.Equal("h-web01", online.GetProperty("id").GetString());
        Assert.Equal("online", online.GetProperty("state").GetString());
        Assert.Equal(4, online.GetProperty("desiredGeneration").GetInt64());
        Assert.Equal(3, online.GetProperty("appliedGeneration").GetInt64());
        Assert.Equal(["series", "commit"], online.GetProperty("odoo").EnumerateObject().Select(p => p.Name));
        Assert.Equal(Samples.Commit, online.GetProperty("odoo").GetProperty("commit").GetString());
        Assert.Equal("2025-06-01T11:59:18Z", online.GetProperty("lastSeen").GetString());
        Assert.Equal(
            ["cpuPercent", "memoryTotalBytes", "memoryAvailableBytes", "diskTotalBytes", "diskFreeBytes", "load1", "load5", "load15"],
            online.GetProperty("metrics").EnumerateObject().Select(p => p.Name));
        Assert.Equal(12.5, online.GetProperty("metrics").GetProperty("cpuPercent").GetDouble());

        var silent = doc.RootElement[1];
        Assert.Equal("offline", silent.GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, silent.GetProperty("lastSeen").ValueKind);
        Assert.Equal(JsonValueKind.Null, silent.GetProperty("odoo").ValueKind);
        Assert.Equal(JsonValueKind.Null, silent.GetProperty("metrics").ValueKind);
        Assert.False(silent.GetProperty("lastConvergeSuccess").GetBoolean());
        Assert.Equal("nginx -t failed", silent.GetProperty("lastConvergeError").GetString());
    }

    [Fact]
    public void ToJson_WithFacts_SameShapePlusFacts()
    {
        using var doc = JsonDocument.Parse(JsonSerializer.Serialize(HostView.ToJson(Samples.OnlineHost(), includeFacts: true), OutputJsonContext.Default.HostJson));

        Assert.Equal("facts", doc.RootElement.EnumerateObject().Last().Name);
        var facts = doc.RootElement.GetProperty("facts");
        Assert.Equal("debian", facts.GetProperty("osId").GetString());
        Assert.Equal("10.0.0.11", facts.GetProperty("addresses")[0].GetString());
    }

    [Theory]
    [InlineData(HostState.Online, "online")]
    [InlineData(HostState.Offline, "offline")]
    [InlineData(HostState.Unspecified, "unknown")]
    public void State_Enum_Lowercase(HostState state, string expected) => Assert.Equal(expected, HostView.State(state));

    [Fact]
    public void ToRow_Host_ShortReleaseGenerationsAndRelativeLastSeen()
    {
        var row = HostView.ToRow(Samples.OnlineHost(), Samples.Now);

        Assert.Equal(new HostRow("h-web01", "web-01", "10.0.0.11", "online", "3/4 *", "18.0@3f2a9c1d", "42s ago") { Tenants = "0 (+0)" }, row);
        Assert.Equal("never", HostView.ToRow(Samples.SilentHost(), Samples.Now).LastSeen);
        Assert.Equal("-", HostView.ToRow(Samples.SilentHost(), Samples.Now).Odoo);
    }

    [Theory]
    [InlineData(0.4, "just now")]
    [InlineData(59, "59s ago")]
    [InlineData(60, "1m ago")]
    [InlineData(3599, "59m ago")]
    [InlineData(7200, "2h ago")]
    [InlineData(200000, "2d ago")]
    public void Ago_Age_Relative(double seconds, string expected) =>
        Assert.Equal(expected, Formats.Ago(Samples.Now.AddSeconds(-seconds), Samples.Now));

    [Fact]
    public void Details_HostWithFactsAndMetrics_AllSections()
    {
        var details = HostView.Details(Samples.OnlineHost(), Samples.Now);

        Assert.Equal(["Host", "Desired state", "Profile", "Facts", "Metrics"], details.Select(d => d.Section).Distinct());
        Assert.Contains(("Metrics", "memory available", "6.0 GiB of 8.0 GiB"), details);
    }

    [Fact]
    public void Details_HostWithoutProfile_DefaultsSpelledOut()
    {
        var details = HostView.Details(Samples.OnlineHost(), Samples.Now);

        Assert.Contains(("Profile", "workers", "auto"), details);
        Assert.Contains(("Profile", "tls", "self-signed"), details);
        Assert.Contains(("Profile", "postgresql", "local (installed and tuned by the agent)"), details);
        Assert.Contains(("Profile", "login ban", "after default failed logins within default, for default"), details);
        Assert.Contains(("Profile", "database manager", "blocked"), details);
    }
}
