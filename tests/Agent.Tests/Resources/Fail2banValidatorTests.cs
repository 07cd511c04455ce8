using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

/// <summary>
/// The fail2ban files through FileResource with the real fail2ban-regex and fail2ban-client, on a
/// copy of this box's /etc/fail2ban in a temp root (the box's own /etc is never touched).
/// </summary>
public sealed class Fail2banValidatorTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static bool HasFail2ban => ProcessCommandRunner.IsOnPath("fail2ban-regex") && ProcessCommandRunner.IsOnPath("fail2ban-client");

    private static ConvergeEngine NewEngine() => new(TimeProvider.System, NullLogger<ConvergeEngine>.Instance);

    /// <summary>A temp root holding a copy of /etc/fail2ban and an Odoo log file.</summary>
    private sealed class Fail2banRoot : IDisposable
    {
        private readonly TempDirectory root = new();

        public Fail2banRoot()
        {
            CopyTree("/etc/fail2ban", ConfigDirectory);
            Directory.CreateDirectory(root.Combine("var", "log", "odoo"));
            File.WriteAllText(LogFile, "");
        }

        public HostPaths Paths => new(root.Path);

        public string ConfigDirectory => root.Combine("etc", "fail2ban");

        public string LogFile => root.Combine("var", "log", "odoo", "odoo.log");

        public string Combine(params string[] parts) => root.Combine(parts);

        public void Dispose() => root.Dispose();

        private static void CopyTree(string source, string destination)
        {
            Directory.CreateDirectory(destination);
            foreach (var file in Directory.GetFiles(source))
            {
                File.Copy(file, Path.Combine(destination, Path.GetFileName(file)));
            }

            foreach (var directory in Directory.GetDirectories(source))
            {
                CopyTree(directory, Path.Combine(destination, Path.GetFileName(directory)));
            }
        }
    }

    private static FileResource Filter(Fail2banRoot root, string text)
    {
        var runner = new ProcessCommandRunner();
        return new FileResource(
            root.Paths, runner, Fail2banRenderer.FilterPath, Encoding.UTF8.GetBytes(text), FileModes.Mode0644, ownership: null,
            new Fail2banFilterValidator(runner));
    }

    private static FileResource Jail(Fail2banRoot root, string text, params string[] dependsOn)
    {
        var runner = new ProcessCommandRunner();
        return new FileResource(
            root.Paths, runner, Fail2banRenderer.JailPath, Encoding.UTF8.GetBytes(text), FileModes.Mode0644, ownership: null,
            new Fail2banConfigValidator(runner, Fail2banRenderer.JailRelativePath, root.ConfigDirectory))
        {
            DependsOn = dependsOn,
        };
    }

    [Fact]
    public async Task Apply_RenderedFilterAndJailTwice_ChangedThenUnchanged()
    {
        Assert.SkipUnless(HasFail2ban, "fail2ban is not installed");
        using var root = new Fail2banRoot();
        var filter = Filter(root, Fail2banRenderer.RenderFilter());
        IResource[] resources = [filter, Jail(root, Fail2banRenderer.RenderJail(new Fail2banSpec(root.LogFile)), filter.Id)];

        var first = await NewEngine().RunAsync(resources, ConvergeMode.Apply, Ct);
        var second = await NewEngine().RunAsync(resources, ConvergeMode.Apply, Ct);

        Assert.All(first.Results, r => Assert.True(r.Status == ResourceStatus.Changed, $"{r.Id}: {r.Status} {r.Message}"));
        Assert.All(second.Results, r => Assert.Equal(ResourceStatus.Unchanged, r.Status));
        Assert.Equal(Fail2banRenderer.RenderFilter(), await File.ReadAllTextAsync(root.Combine("etc", "fail2ban", "filter.d", "odoo-login.conf"), Ct));
    }

    [Theory]
    // The seed guide's filter: wrong level and logger, no <HOST>.
    [InlineData("^.* WARNING odoo odoo.http: Invalid login for database:.* from", "fail2ban-regex rejected")]
    // Matches successful logins too.
    [InlineData(@"^ \d+ INFO \S+ odoo\.addons\.base\.models\.res_users: Login \w+ for db:\S* login:.*? from <HOST>\s*$", "expected hosts")]
    // Not anchored at the end: a login of "x from 192.0.2.1" picks whom to ban.
    [InlineData(@"^ \d+ INFO \S+ odoo\.addons\.base\.models\.res_users: Login failed for db:\S* login:.*? from <HOST>", "got [203.0.113.7, 198.51.100.23, 192.0.2.1")]
    // Unbalanced parenthesis.
    [InlineData(@"^ \d+ INFO (\S+ Login failed from <HOST>", "fail2ban-regex rejected")]
    public async Task Apply_BrokenFilter_FailsAndKeepsOldFile(string failregex, string expected)
    {
        Assert.SkipUnless(HasFail2ban, "fail2ban is not installed");
        using var root = new Fail2banRoot();
        var live = root.Combine("etc", "fail2ban", "filter.d", "odoo-login.conf");
        await File.WriteAllTextAsync(live, "old\n", Ct);
        var text = $"[Definition]\nfailregex = {failregex}\nignoreregex =\ndatepattern = ^%%Y-%%m-%%d %%H:%%M:%%S,%%f\n";

        var outcome = await NewEngine().RunAsync([Filter(root, text)], ConvergeMode.Apply, Ct);

        Assert.Equal(ResourceStatus.Failed, outcome.Results[0].Status);
        Assert.Contains(expected, outcome.Results[0].Message, StringComparison.Ordinal);
        Assert.Equal("old\n", await File.ReadAllTextAsync(live, Ct));
        Assert.DoesNotContain(Directory.GetFiles(Path.GetDirectoryName(live)!), f => Path.GetFileName(f).StartsWith(".odoo-login.conf.tmp-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Apply_JailWithoutItsLogFile_FailsLikeFail2banWould()
    {
        Assert.SkipUnless(HasFail2ban, "fail2ban is not installed");
        using var root = new Fail2banRoot();
        await File.WriteAllTextAsync(root.Combine("etc", "fail2ban", "filter.d", "odoo-login.conf"), Fail2banRenderer.RenderFilter(), Ct);
        var jail = Jail(root, Fail2banRenderer.RenderJail(new Fail2banSpec(root.Combine("var", "log", "odoo", "missing.log"))));

        var outcome = await NewEngine().RunAsync([jail], ConvergeMode.Apply, Ct);

        Assert.Equal(ResourceStatus.Failed, outcome.Results[0].Status);
        Assert.Contains("Have not found any log file for odoo-login jail", outcome.Results[0].Message, StringComparison.Ordinal);
        Assert.False(File.Exists(root.Combine("etc", "fail2ban", "jail.d", "odoofleet.conf")));
    }

    [Fact]
    public async Task Apply_JailWithoutItsFilter_Fails()
    {
        Assert.SkipUnless(HasFail2ban, "fail2ban is not installed");
        using var root = new Fail2banRoot();

        var outcome = await NewEngine().RunAsync([Jail(root, Fail2banRenderer.RenderJail(new Fail2banSpec(root.LogFile)))], ConvergeMode.Apply, Ct);

        Assert.Equal(ResourceStatus.Failed, outcome.Results[0].Status);
        Assert.Contains("Unable to read the filter 'odoo-login'", outcome.Results[0].Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[odoo-login]\nenabled = true\nfilter = odoo-login\nlogpath = LOG\ngarbage line\n[x\n", "Source contains parsing errors")]
    [InlineData("[odoo-login]\nenabled = true\nfilter = odoo-login\nlogpath = LOG\nbanaction = nosuchaction\n", "Unable to read action 'nosuchaction'")]
    public async Task Apply_BrokenJail_FailsAndKeepsOldFile(string text, string expected)
    {
        Assert.SkipUnless(HasFail2ban, "fail2ban is not installed");
        using var root = new Fail2banRoot();
        await File.WriteAllTextAsync(root.Combine("etc", "fail2ban", "filter.d", "odoo-login.conf"), Fail2banRenderer.RenderFilter(), Ct);
        var live = root.Combine("etc", "fail2ban", "jail.d", "odoofleet.conf");
        await File.WriteAllTextAsync(live, "[sshd]\nbackend = systemd\n", Ct);

        var outcome = await NewEngine().RunAsync([Jail(root, text.Replace("LOG", root.LogFile, StringComparison.Ordinal))], ConvergeMode.Apply, Ct);

        Assert.Equal(ResourceStatus.Failed, outcome.Results[0].Status);
        Assert.Contains(expected, outcome.Results[0].Message, StringComparison.Ordinal);
        Assert.Equal("[sshd]\nbackend = systemd\n", await File.ReadAllTextAsync(live, Ct));
    }

    [Fact]
    public async Task Apply_BrokenLiveJailBeingReplaced_NewFilePasses()
    {
        Assert.SkipUnless(HasFail2ban, "fail2ban is not installed");
        using var root = new Fail2banRoot();
        await File.WriteAllTextAsync(root.Combine("etc", "fail2ban", "filter.d", "odoo-login.conf"), Fail2banRenderer.RenderFilter(), Ct);
        await File.WriteAllTextAsync(root.Combine("etc", "fail2ban", "jail.d", "odoofleet.conf"), "edited by hand [\n", Ct);

        var outcome = await NewEngine().RunAsync([Jail(root, Fail2banRenderer.RenderJail(new Fail2banSpec(root.LogFile)))], ConvergeMode.Apply, Ct);

        Assert.Equal(ResourceStatus.Changed, outcome.Results[0].Status);
    }

    [Fact]
    public void Constructor_PathOutsideConfigDirectory_Throws()
    {
        Assert.Throws<ArgumentException>(() => new Fail2banConfigValidator(new ProcessCommandRunner(), "../passwd"));
        Assert.Throws<ArgumentException>(() => new Fail2banConfigValidator(new ProcessCommandRunner(), "/etc/fail2ban/jail.local"));
    }
}
