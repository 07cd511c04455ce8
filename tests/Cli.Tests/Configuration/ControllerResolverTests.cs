using OdooFleet.Cli.Configuration;
using OdooFleet.Cli.Tests.Support;

namespace OdooFleet.Cli.Tests.Configuration;

public sealed class ControllerResolverTests : IDisposable
{
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public void Resolve_FlagEnvironmentAndConfig_FlagWins()
    {
        var config = temp.Write("fleet.json", """{"controller": "http://config:7001", "apiToken": "secret"}""");

        var target = ControllerResolver.Resolve("http://flag:7001", "http://env:7001", new ConfigLocations(config, null, Missing()));

        Assert.Equal([new Uri("http://flag:7001")], target.Addresses);
        Assert.Equal("--controller", target.Source);
        Assert.Equal("secret", target.ApiToken);
    }

    [Fact]
    public void Resolve_EnvironmentAndConfig_EnvironmentWins()
    {
        var config = temp.Write("fleet.json", """{"controller": "http://config:7001"}""");

        var target = ControllerResolver.Resolve(null, "http://env:7001", new ConfigLocations(config, null, Missing()));

        Assert.Equal([new Uri("http://env:7001")], target.Addresses);
        Assert.Equal("FLEET_CONTROLLER", target.Source);
    }

    [Fact]
    public void Resolve_OnlyConfig_ControllerThenControllersWithoutDuplicates()
    {
        var config = temp.Write("fleet.json", """
            {
              "controller": "http://a:7001",
              "controllers": ["http://a:7001", "http://b:7002"],
              "apiToken": "secret"
            }
            """);

        var target = ControllerResolver.Resolve(null, null, new ConfigLocations(config, null, Missing()));

        Assert.Equal([new Uri("http://a:7001"), new Uri("http://b:7002")], target.Addresses);
        Assert.Equal(config, target.Source);
        Assert.Equal("secret", target.ApiToken);
    }

    [Fact]
    public void Resolve_ExplicitUserAndSystemConfig_ExplicitThenUserThenSystem()
    {
        var explicitFile = temp.Write("explicit.json", """{"controller": "http://explicit:1"}""");
        var user = temp.Write("home/.config/odoofleet/fleet.json", """{"controller": "http://user:1"}""");
        var system = temp.Write("etc/fleet.json", """{"controller": "http://system:1"}""");

        Assert.Equal("explicit", ControllerResolver.Resolve(null, null, new ConfigLocations(explicitFile, user, system)).Addresses[0].Host);
        Assert.Equal("user", ControllerResolver.Resolve(null, null, new ConfigLocations(null, user, system)).Addresses[0].Host);
        Assert.Equal("system", ControllerResolver.Resolve(null, null, new ConfigLocations(null, Missing(), system)).Addresses[0].Host);
    }

    [Fact]
    public void From_HostEnvironment_UsesFleetConfigAndHome()
    {
        var host = new CliHost
        {
            Out = TextWriter.Null,
            Err = TextWriter.Null,
            Environment = new Dictionary<string, string?> { ["HOME"] = "/home/op", ["FLEET_CONFIG"] = "/srv/fleet.json" },
            SystemConfigPath = "/etc/odoofleet/fleet.json",
        };

        var locations = ConfigLocations.From(host);

        Assert.Equal(new ConfigLocations("/srv/fleet.json", "/home/op/.config/odoofleet/fleet.json", "/etc/odoofleet/fleet.json"), locations);
    }

    [Fact]
    public void Resolve_CommaSeparatedFlag_AllAddressesInOrder()
    {
        var target = ControllerResolver.Resolve("http://a:1, https://b:2", null, new ConfigLocations(null, null, Missing()));

        Assert.Equal([new Uri("http://a:1"), new Uri("https://b:2")], target.Addresses);
        Assert.Null(target.ApiToken);
    }

    [Fact]
    public void Resolve_NothingConfigured_UsageErrorNamesTheThreeWays()
    {
        var error = Assert.Throws<CliException>(() => ControllerResolver.Resolve(null, null, new ConfigLocations(null, Missing(), Missing())));

        Assert.Equal(ExitCodes.Usage, error.ExitCode);
        Assert.Contains("--controller", error.Message, StringComparison.Ordinal);
        Assert.Contains("FLEET_CONTROLLER", error.Message, StringComparison.Ordinal);
        Assert.Contains("~/.config/odoofleet/fleet.json", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1:7001")]
    [InlineData("ftp://host:21")]
    [InlineData("not a url")]
    public void Resolve_FlagNotAUrl_UsageErrorWithExample(string flag)
    {
        var error = Assert.Throws<CliException>(() => ControllerResolver.Resolve(flag, null, new ConfigLocations(null, null, Missing())));

        Assert.Equal(ExitCodes.Usage, error.ExitCode);
        Assert.StartsWith("--controller: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("http://127.0.0.1:7001", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_FleetConfigNamesMissingFile_UsageError()
    {
        var path = Path.Combine(temp.Path, "nope.json");

        var error = Assert.Throws<CliException>(() => ControllerResolver.Resolve(null, null, new ConfigLocations(path, null, Missing())));

        Assert.Equal(ExitCodes.Usage, error.ExitCode);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_ConfigNotJson_UsageErrorNamesFile()
    {
        var config = temp.Write("fleet.json", "controller = http://a:1");

        var error = Assert.Throws<CliException>(() => ControllerResolver.Resolve(null, null, new ConfigLocations(config, null, Missing())));

        Assert.Equal(ExitCodes.Usage, error.ExitCode);
        Assert.Contains(config, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_ConfigWithoutAddresses_UsageError()
    {
        var config = temp.Write("fleet.json", """{"apiToken": "secret"}""");

        var error = Assert.Throws<CliException>(() => ControllerResolver.Resolve(null, null, new ConfigLocations(config, null, Missing())));

        Assert.Contains("has no \"controller\"", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", error.Message, StringComparison.Ordinal);
    }

    private string Missing() => Path.Combine(temp.Path, "missing", Guid.NewGuid().ToString("N") + ".json");
}
