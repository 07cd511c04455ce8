using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

/// <summary>
/// The firewall resource's parsers and decisions, fed with what ufw 0.36.2 printed on Debian 12
/// hosts. This box's firewall is not ours to change; test hosts run the real apply path.
/// </summary>
public sealed class UfwResourceTests
{
    private const string StatusActive = """
        Status: active
        Logging: on (low)
        Default: deny (incoming), allow (outgoing), disabled (routed)
        New profiles: skip

        To                         Action      From
        --                         ------      ----
        22/tcp                     ALLOW IN    Anywhere
        80/tcp                     ALLOW IN    Anywhere
        443/tcp                    ALLOW IN    Anywhere
        22/tcp (v6)                ALLOW IN    Anywhere (v6)
        80/tcp (v6)                ALLOW IN    Anywhere (v6)
        443/tcp (v6)               ALLOW IN    Anywhere (v6)

        """;

    private const string StatusActiveWithHandRules = """
        Status: active
        Logging: on (low)
        Default: deny (incoming), allow (outgoing), disabled (routed)
        New profiles: skip

        To                         Action      From
        --                         ------      ----
        22/tcp                     ALLOW IN    Anywhere
        80/tcp                     ALLOW IN    Anywhere
        443/tcp                    ALLOW IN    Anywhere
        8069/tcp                   ALLOW IN    Anywhere
        Anywhere                   DENY IN     1.2.3.4
        22/tcp (v6)                ALLOW IN    Anywhere (v6)
        80/tcp (v6)                ALLOW IN    Anywhere (v6)
        443/tcp (v6)               ALLOW IN    Anywhere (v6)
        8069/tcp (v6)              ALLOW IN    Anywhere (v6)

        """;

    private const string StatusActiveLoose = """
        Status: active
        Logging: off
        Default: allow (incoming), allow (outgoing), disabled (routed)
        New profiles: skip

        """;

    private const string StatusInactive = "Status: inactive\n";

    private const string AddedOwned = """
        Added user rules (see 'ufw status' for running firewall):
        ufw allow 22/tcp
        ufw allow 80/tcp
        ufw allow 443/tcp

        """;

    private const string AddedWithHandRules = """
        Added user rules (see 'ufw status' for running firewall):
        ufw allow 22/tcp
        ufw allow 80/tcp
        ufw allow 443/tcp
        ufw allow 8069/tcp
        ufw deny from 1.2.3.4

        """;

    private const string AddedNone = "Added user rules (see 'ufw status' for running firewall):\n(None)\n";

    private static readonly UfwSpec Web = new([new UfwPort(22, "tcp"), new UfwPort(80, "tcp"), new UfwPort(443, "tcp")]);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<(ResourceResult Result, List<string> Mutations)> ConvergeAsync(
        string status, string added, UfwSpec? spec = null, ConvergeMode mode = ConvergeMode.Apply)
    {
        var runner = new ScriptedCommandRunner()
            .On("ufw status verbose", status)
            .On("ufw show added", added)
            .On("ufw ", "Rules updated\nRules updated (v6)\n");
        var resource = new UfwResource(runner, spec ?? Web);
        var outcome = await new ConvergeEngine(TimeProvider.System, NullLogger<ConvergeEngine>.Instance).RunAsync([resource], mode, Ct);
        var mutations = runner.Lines.Where(l => l is not ("ufw status verbose" or "ufw show added")).ToList();
        return (outcome.Results[0], mutations);
    }

    [Fact]
    public void ParseStatus_Active_ReadsLoggingAndDefaults()
    {
        var status = UfwResource.ParseStatus(StatusActive);
        Assert.Equal(new UfwResource.UfwStatus(true, "low", "deny", "allow"), status);
    }

    [Theory]
    [InlineData(StatusInactive, false, null, null, null)]
    [InlineData(StatusActiveLoose, true, "off", "allow", "allow")]
    [InlineData(StatusActiveWithHandRules, true, "low", "deny", "allow")]
    public void ParseStatus_RealOutputs_Parsed(string stdout, bool active, string? logging, string? incoming, string? outgoing) =>
        Assert.Equal(new UfwResource.UfwStatus(active, logging, incoming, outgoing), UfwResource.ParseStatus(stdout));

    [Theory]
    [InlineData("")]
    [InlineData("ERROR: You need to be root to run this script\n")]
    [InlineData("Status: confused\n")]
    public void ParseStatus_NoUsableStatus_Throws(string stdout) =>
        Assert.Throws<CommandFailedException>(() => UfwResource.ParseStatus(stdout));

    [Fact]
    public void ParseAdded_RealOutputs_RulesWithoutPrefix()
    {
        Assert.Equal(["allow 22/tcp", "allow 80/tcp", "allow 443/tcp"], UfwResource.ParseAdded(AddedOwned));
        Assert.Equal(["allow 22/tcp", "allow 80/tcp", "allow 443/tcp", "allow 8069/tcp", "deny from 1.2.3.4"], UfwResource.ParseAdded(AddedWithHandRules));
        Assert.Empty(UfwResource.ParseAdded(AddedNone));
    }

    [Theory]
    [InlineData("allow 8069/tcp", "delete allow 8069/tcp")]
    [InlineData("deny from 1.2.3.4", "delete deny from 1.2.3.4")]
    [InlineData("allow 22/tcp comment 'ssh of the host'", "delete allow 22/tcp")]
    [InlineData("allow 'Nginx Full'", "delete allow|Nginx Full")]
    [InlineData("allow from 10.0.0.0/8 to any port 5432 proto tcp", "delete allow from 10.0.0.0/8 to any port 5432 proto tcp")]
    [InlineData("route allow in on wg0 comment 'vpn'", "route delete allow in on wg0")]
    public void DeleteArguments_AddedRule_Arguments(string rule, string expected)
    {
        // '|' separates an argument that itself contains spaces.
        var arguments = UfwResource.DeleteArguments(rule);
        var expectedArguments = expected.Contains('|', StringComparison.Ordinal)
            ? [.. expected.Split('|')[0].Split(' '), expected.Split('|')[1]]
            : expected.Split(' ');
        Assert.Equal(expectedArguments, arguments);
    }

    [Fact]
    public async Task Converge_FreshHost_AllowsSshFirstThenPoliciesThenEnables()
    {
        var spec = new UfwSpec([new UfwPort(80, "tcp"), new UfwPort(443, "tcp"), new UfwPort(22, "tcp")]);

        var (result, mutations) = await ConvergeAsync(StatusInactive, AddedNone, spec);

        Assert.Equal(ResourceStatus.Changed, result.Status);
        Assert.Equal(
            [
                "ufw allow 22/tcp", "ufw allow 80/tcp", "ufw allow 443/tcp",
                "ufw default deny incoming", "ufw default allow outgoing", "ufw logging low", "ufw --force enable",
            ],
            mutations);
        Assert.DoesNotContain(mutations, m => m.Contains("reset", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Converge_InactiveWithRulesInPlace_SetsPoliciesAndEnablesOnly()
    {
        var (_, mutations) = await ConvergeAsync(StatusInactive, AddedOwned);
        Assert.Equal(["ufw default deny incoming", "ufw default allow outgoing", "ufw logging low", "ufw --force enable"], mutations);
    }

    [Fact]
    public async Task Converge_ActiveAndAsDeclared_Unchanged()
    {
        var (result, mutations) = await ConvergeAsync(StatusActive, AddedOwned);
        Assert.Equal(ResourceStatus.Unchanged, result.Status);
        Assert.Empty(mutations);
    }

    [Fact]
    public async Task Converge_HandAddedRules_DeletesThemAndNothingElse()
    {
        var (result, mutations) = await ConvergeAsync(StatusActiveWithHandRules, AddedWithHandRules);

        Assert.Equal(ResourceStatus.Changed, result.Status);
        Assert.Equal("ufw: delete rules nobody declared: allow 8069/tcp; deny from 1.2.3.4", result.Message);
        Assert.Equal(["ufw --force delete allow 8069/tcp", "ufw --force delete deny from 1.2.3.4"], mutations);
    }

    [Fact]
    public async Task Converge_SshRuleReplacedByHand_AddsSshBeforeDeleting()
    {
        const string Added = "Added user rules (see 'ufw status' for running firewall):\nufw limit 22/tcp\nufw allow 80/tcp\nufw allow 443/tcp\n";

        var (_, mutations) = await ConvergeAsync(StatusActive, Added);

        Assert.Equal(["ufw allow 22/tcp", "ufw --force delete limit 22/tcp"], mutations);
    }

    [Fact]
    public async Task Converge_CommentedOwnedRule_CountsAsOwned()
    {
        const string Added = "Added user rules (see 'ufw status' for running firewall):\nufw allow 22/tcp comment 'ssh'\nufw allow 80/tcp\nufw allow 443/tcp\n";
        var (result, _) = await ConvergeAsync(StatusActive, Added);
        Assert.Equal(ResourceStatus.Unchanged, result.Status);
    }

    [Fact]
    public async Task Converge_ActiveWithLoosePolicies_SetsPoliciesAndLogging()
    {
        var (result, mutations) = await ConvergeAsync(StatusActiveLoose, AddedOwned);

        Assert.Equal("ufw: default incoming allow -> deny, logging off -> low", result.Message);
        Assert.Equal(["ufw default deny incoming", "ufw logging low"], mutations);
    }

    [Fact]
    public async Task Converge_DisabledInSpecWhileActive_Disables()
    {
        var (_, mutations) = await ConvergeAsync(StatusActive, AddedOwned, Web with { Enabled = false });
        Assert.Equal(["ufw disable"], mutations);
    }

    [Fact]
    public async Task Check_HandAddedRules_ReportsAndChangesNothing()
    {
        var (result, mutations) = await ConvergeAsync(StatusActiveWithHandRules, AddedWithHandRules, mode: ConvergeMode.Check);

        Assert.Equal("would ufw: delete rules nobody declared: allow 8069/tcp; deny from 1.2.3.4", result.Message);
        Assert.Empty(mutations);
    }

    private static readonly Dictionary<string, UfwSpec> BadSpecs = new(StringComparer.Ordinal)
    {
        ["no-ssh"] = new UfwSpec([new UfwPort(80, "tcp")]),
        ["port-0"] = new UfwSpec([new UfwPort(22, "tcp"), new UfwPort(0, "tcp")]),
        ["icmp"] = new UfwSpec([new UfwPort(22, "tcp"), new UfwPort(53, "icmp")]),
        ["twice"] = new UfwSpec([new UfwPort(22, "tcp"), new UfwPort(22, "tcp")]),
        ["logging"] = Web with { Logging = "verbose" },
        ["incoming"] = Web with { DefaultIncoming = "drop" },
        ["ssh-port"] = Web with { SshPort = 2222 },
    };

    [Theory]
    [InlineData("no-ssh", "ufw.allow: must include 22/tcp (ssh)")]
    [InlineData("port-0", "ufw.allow[1].port: 0 is not a port")]
    [InlineData("icmp", "ufw.allow[1].protocol: 'icmp' must be tcp or udp")]
    [InlineData("twice", "ufw.allow[1]: 22/tcp is listed twice")]
    [InlineData("logging", "ufw.logging: 'verbose' must be one of off, low, medium, high, full")]
    [InlineData("incoming", "ufw.default_incoming: 'drop' must be one of allow, deny, reject")]
    [InlineData("ssh-port", "ufw.allow: must include 2222/tcp (ssh)")]
    public void Constructor_BadSpec_ThrowsNamingTheField(string spec, string expected)
    {
        var e = Assert.Throws<SpecValidationException>(() => new UfwResource(new ScriptedCommandRunner(), BadSpecs[spec]));
        Assert.Contains(e.Errors, error => error.StartsWith(expected, StringComparison.Ordinal));
    }
}
