using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

/// <summary>
/// The sysctl resource: the file part in a temp root; live values read from this box's real
/// /proc/sys (never changed here) or, for the write path, from a stand-in directory. Real writes
/// of namespaced keys run on the test hosts.
/// </summary>
public sealed class SysctlResourceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static ConvergeEngine NewEngine() => new(TimeProvider.System, NullLogger<ConvergeEngine>.Instance);

    private static SysctlResource Sysctl(TempDirectory root, string procSys, params (string Key, string Value)[] settings)
    {
        Directory.CreateDirectory(root.Combine("etc"));
        return new SysctlResource(new HostPaths(root.Path), new SysctlSpec(settings.ToDictionary(s => s.Key, s => s.Value)), procSys);
    }

    private static string ConfFile(TempDirectory root) => root.Combine("etc", "sysctl.d", "60-odoofleet.conf");

    /// <summary>A stand-in /proc/sys holding the given values as the kernel prints them.</summary>
    private static string FakeProcSys(TempDirectory root, params (string Key, string Value)[] values)
    {
        var procSys = root.Combine("proc-sys");
        foreach (var (key, value) in values)
        {
            var path = Path.Combine(procSys, key.Replace('.', '/'));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, value);
        }

        return procSys;
    }

    [Fact]
    public void Render_Settings_SortedKeyValueLines()
    {
        var text = SysctlResource.Render(new Dictionary<string, string>
        {
            ["vm.swappiness"] = "10",
            ["net.ipv4.tcp_rmem"] = "4096 131072 6291456",
            ["net.core.somaxconn"] = "1024",
        });

        Assert.Equal(
            "# Managed by odoofleet-agent: local changes are put back on the next converge.\n"
            + "net.core.somaxconn = 1024\nnet.ipv4.tcp_rmem = 4096 131072 6291456\nvm.swappiness = 10\n",
            text);
    }

    [Fact]
    public async Task Apply_RealProcValuesAlreadySet_WritesOnlyTheFileThenUnchanged()
    {
        using var root = new TempDirectory();
        var somaxconn = (await File.ReadAllTextAsync("/proc/sys/net/core/somaxconn", Ct)).Trim();
        var portRange = string.Join(' ', (await File.ReadAllTextAsync("/proc/sys/net/ipv4/ip_local_port_range", Ct)).Split(['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries));
        (string, string)[] settings = [("net.core.somaxconn", somaxconn), ("net.ipv4.ip_local_port_range", portRange)];

        var first = await NewEngine().RunAsync([Sysctl(root, "/proc/sys", settings)], ConvergeMode.Apply, Ct);
        var second = await NewEngine().RunAsync([Sysctl(root, "/proc/sys", settings)], ConvergeMode.Apply, Ct);

        Assert.Equal("sysctl: write /etc/sysctl.d/60-odoofleet.conf", first.Results[0].Message);
        Assert.Equal(ResourceStatus.Unchanged, second.Results[0].Status);
        Assert.Equal(
            $"# Managed by odoofleet-agent: local changes are put back on the next converge.\nnet.core.somaxconn = {somaxconn}\nnet.ipv4.ip_local_port_range = {portRange}\n",
            await File.ReadAllTextAsync(ConfFile(root), Ct));
        Assert.Equal(FileModes.Mode0644, File.GetUnixFileMode(ConfFile(root)));
    }

    [Fact]
    public async Task Apply_ReadOnlyKey_FailsNamingItAndWritesNoFile()
    {
        using var root = new TempDirectory();

        // kernel.ostype is read-only even for root; writing it fails without changing anything.
        var outcome = await NewEngine().RunAsync([Sysctl(root, "/proc/sys", ("kernel.ostype", "Plan9"))], ConvergeMode.Apply, Ct);

        Assert.Equal(ResourceStatus.Failed, outcome.Results[0].Status);
        Assert.StartsWith("sysctl kernel.ostype: /proc/sys/kernel/ostype is read-only here", outcome.Results[0].Message, StringComparison.Ordinal);
        Assert.Contains("network-namespaced keys", outcome.Results[0].Message, StringComparison.Ordinal);
        Assert.False(File.Exists(ConfFile(root)));
        Assert.Equal("Linux\n", await File.ReadAllTextAsync("/proc/sys/kernel/ostype", Ct));
    }

    [Fact]
    public async Task Check_UnknownKey_FailsNamingIt()
    {
        using var root = new TempDirectory();

        var outcome = await NewEngine().RunAsync([Sysctl(root, "/proc/sys", ("net.core.somaxconnn", "1024"))], ConvergeMode.Check, Ct);

        Assert.Equal(ResourceStatus.Failed, outcome.Results[0].Status);
        Assert.StartsWith("sysctl: net.core.somaxconnn not found under /proc/sys", outcome.Results[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Apply_LiveValueDiffers_WritesLiveAndFileThenUnchanged()
    {
        using var root = new TempDirectory();
        var procSys = FakeProcSys(root, ("net.core.somaxconn", "4096\n"), ("net.ipv4.tcp_rmem", "4096\t131072\t6291456\n"));
        (string, string)[] settings = [("net.core.somaxconn", "1024"), ("net.ipv4.tcp_rmem", "4096 131072 6291456")];

        var first = await NewEngine().RunAsync([Sysctl(root, procSys, settings)], ConvergeMode.Apply, Ct);
        var second = await NewEngine().RunAsync([Sysctl(root, procSys, settings)], ConvergeMode.Apply, Ct);

        Assert.Equal("sysctl: net.core.somaxconn 4096 -> 1024, write /etc/sysctl.d/60-odoofleet.conf", first.Results[0].Message);
        Assert.Equal("1024\n", await File.ReadAllTextAsync(Path.Combine(procSys, "net", "core", "somaxconn"), Ct));
        Assert.Equal("4096\t131072\t6291456\n", await File.ReadAllTextAsync(Path.Combine(procSys, "net", "ipv4", "tcp_rmem"), Ct));
        Assert.Equal(ResourceStatus.Unchanged, second.Results[0].Status);
    }

    [Fact]
    public async Task Apply_FileEditedByHand_RewritesItKeepingPrevious()
    {
        using var root = new TempDirectory();
        var procSys = FakeProcSys(root, ("vm.swappiness", "10\n"));
        await NewEngine().RunAsync([Sysctl(root, procSys, ("vm.swappiness", "10"))], ConvergeMode.Apply, Ct);
        await File.AppendAllTextAsync(ConfFile(root), "vm.swappiness = 60\n", Ct);

        var outcome = await NewEngine().RunAsync([Sysctl(root, procSys, ("vm.swappiness", "10"))], ConvergeMode.Apply, Ct);

        Assert.Equal("sysctl: write /etc/sysctl.d/60-odoofleet.conf", outcome.Results[0].Message);
        Assert.DoesNotContain("60", await File.ReadAllTextAsync(ConfFile(root), Ct), StringComparison.Ordinal);
        Assert.Contains("vm.swappiness = 60", await File.ReadAllTextAsync(ConfFile(root) + ".previous", Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_LiveValueDiffers_ReportsAndChangesNothing()
    {
        using var root = new TempDirectory();
        var procSys = FakeProcSys(root, ("net.core.somaxconn", "4096\n"));

        var outcome = await NewEngine().RunAsync([Sysctl(root, procSys, ("net.core.somaxconn", "1024"))], ConvergeMode.Check, Ct);

        Assert.Equal("would sysctl: net.core.somaxconn 4096 -> 1024, write /etc/sysctl.d/60-odoofleet.conf", outcome.Results[0].Message);
        Assert.Equal("4096\n", await File.ReadAllTextAsync(Path.Combine(procSys, "net", "core", "somaxconn"), Ct));
        Assert.False(File.Exists(ConfFile(root)));
    }

    [Theory]
    [InlineData("net..core", "1", "sysctl: 'net..core' is not a sysctl key")]
    [InlineData("../../etc/passwd", "1", "sysctl: '../../etc/passwd' is not a sysctl key")]
    [InlineData("net/core/somaxconn", "1", "sysctl: 'net/core/somaxconn' is not a sysctl key")]
    [InlineData("somaxconn", "1", "sysctl: 'somaxconn' is not a sysctl key")]
    [InlineData("Net.core.somaxconn", "1", "sysctl: 'Net.core.somaxconn' is not a sysctl key")]
    [InlineData("net.core.somaxconn", "1024\nvm.swappiness = 100", "sysctl.net.core.somaxconn: '1024?vm.swappiness = 100' is not a sysctl value")]
    [InlineData("net.core.somaxconn", "", "sysctl.net.core.somaxconn: '' is not a sysctl value")]
    [InlineData("net.core.somaxconn", "1024 ", "sysctl.net.core.somaxconn: '1024 ' is not a sysctl value")]
    [InlineData("kernel.core_pattern", "|/bin/sh", "sysctl.kernel.core_pattern: '|/bin/sh' is not a sysctl value")]
    public void Constructor_BadSpec_ThrowsNamingTheKey(string key, string value, string expected)
    {
        using var root = new TempDirectory();
        var e = Assert.Throws<SpecValidationException>(() => Sysctl(root, "/proc/sys", (key, value)));
        Assert.Contains(e.Errors, error => error.StartsWith(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("net.core.somaxconn")]
    [InlineData("net.ipv4.conf.all.rp_filter")]
    [InlineData("net.ipv4.conf.eth-0.rp_filter")]
    [InlineData("vm.dirty_background_ratio")]
    public void IsSysctlKey_ValidKey_True(string key) => Assert.True(Grammar.IsSysctlKey(key));
}
