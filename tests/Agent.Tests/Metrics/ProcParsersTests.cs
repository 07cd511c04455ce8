using OdooFleet.Agent.Facts;
using OdooFleet.Agent.Metrics;

namespace OdooFleet.Agent.Tests.Metrics;

public sealed class ProcParsersTests
{
    [Fact]
    public void CpuPercent_TwoSamples_IsBusyShareOfDelta()
    {
        var before = ProcParsers.ParseCpu("cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1 2 3 4\n")!.Value;
        var after = ProcParsers.ParseCpu("cpu  150 0 150 900 0 0 0 0 0 0\n")!.Value;
        Assert.Equal(50.0, ProcParsers.CpuPercent(before, after), precision: 6);
    }

    [Fact]
    public void CpuPercent_NoTimePassed_IsZero()
    {
        var sample = ProcParsers.ParseCpu("cpu  1 2 3 4 5 6 7 8\n")!.Value;
        Assert.Equal(0, ProcParsers.CpuPercent(sample, sample));
    }

    [Fact]
    public void MemInfoBytes_KiloBytes_ConvertedToBytes()
    {
        const string MemInfo = "MemTotal:       16303612 kB\nMemFree:  1 kB\nMemAvailable:   8000000 kB\n";
        Assert.Equal(16303612L * 1024, ProcParsers.MemInfoBytes(MemInfo, "MemTotal"));
        Assert.Equal(8000000L * 1024, ProcParsers.MemInfoBytes(MemInfo, "MemAvailable"));
        Assert.Equal(0, ProcParsers.MemInfoBytes(MemInfo, "SwapTotal"));
    }

    [Fact]
    public void ParseLoadAvg_Line_ReturnsThreeLoads() =>
        Assert.Equal((0.52, 0.58, 0.59), ProcParsers.ParseLoadAvg("0.52 0.58 0.59 1/467 12345\n"));

    [Fact]
    public void ParseOsRelease_QuotedValues_Unquoted()
    {
        var values = FactCollector.ParseOsRelease("ID=ubuntu\nVERSION_ID=\"24.04\"\n# comment\n");
        Assert.Equal("ubuntu", values["ID"]);
        Assert.Equal("24.04", values["VERSION_ID"]);
    }
}
