using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.IO;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

/// <summary>The logrotate file through FileResource with the real `logrotate -d`, in a temp root.</summary>
public sealed class LogrotateValidatorTests
{
    /// <summary>Users that exist on this box (the odoo user does not).</summary>
    private static readonly LogrotateSpec Spec = new("/var/log/odoo", "nobody", "nogroup");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static ConvergeEngine NewEngine() => new(TimeProvider.System, NullLogger<ConvergeEngine>.Instance);

    private static FileResource Config(TempDirectory root, string text, UnixFileMode mode = FileModes.Mode0644)
    {
        Directory.CreateDirectory(root.Combine("etc", "logrotate.d"));
        var runner = new ProcessCommandRunner();
        return new FileResource(
            new HostPaths(root.Path), runner, LogrotateRenderer.FilePath, Encoding.UTF8.GetBytes(text), mode, ownership: null,
            new LogrotateValidator(runner))
        {
            PreviousSuffix = AtomicFile.IgnoredPreviousSuffix,
        };
    }

    [Fact]
    public async Task Apply_RenderedTwice_ChangedThenUnchanged()
    {
        Assert.SkipUnless(ProcessCommandRunner.IsOnPath("logrotate"), "logrotate is not installed");
        using var root = new TempDirectory();
        var text = LogrotateRenderer.Render(Spec);

        var first = await NewEngine().RunAsync([Config(root, text)], ConvergeMode.Apply, Ct);
        var second = await NewEngine().RunAsync([Config(root, text)], ConvergeMode.Apply, Ct);

        Assert.True(first.Results[0].Status == ResourceStatus.Changed, first.Results[0].Message);
        Assert.Equal(ResourceStatus.Unchanged, second.Results[0].Status);
        Assert.Equal(text, await File.ReadAllTextAsync(root.Combine("etc", "logrotate.d", "odoo"), Ct));
    }

    [Theory]
    // logrotate exits 0 for both of these and then ignores the line or the whole file.
    [InlineData("daily", "dayly", "unknown option 'dayly'")]
    [InlineData("notifempty", "notifempy", "unknown option 'notifempy'")]
    [InlineData("missingok", "missingok\n    rotate_every fortnight", "keyword 'rotate' not properly separated")]
    [InlineData("su nobody nogroup", "su nosuchuser-of nogroup", "unknown user 'nosuchuser-of'")]
    [InlineData("create 0640 nobody nogroup", "create 0640 nobody nosuchgroup-of", "unknown group 'nosuchgroup-of'")]
    public async Task Apply_BrokenConfig_FailsAndKeepsOldFile(string find, string replace, string expected)
    {
        Assert.SkipUnless(ProcessCommandRunner.IsOnPath("logrotate"), "logrotate is not installed");
        using var root = new TempDirectory();
        await NewEngine().RunAsync([Config(root, LogrotateRenderer.Render(Spec))], ConvergeMode.Apply, Ct);
        var broken = LogrotateRenderer.Render(Spec).Replace(find, replace, StringComparison.Ordinal);

        var outcome = await NewEngine().RunAsync([Config(root, broken)], ConvergeMode.Apply, Ct);

        Assert.Equal(ResourceStatus.Failed, outcome.Results[0].Status);
        Assert.Contains(expected, outcome.Results[0].Message, StringComparison.Ordinal);
        Assert.Equal(LogrotateRenderer.Render(Spec), await File.ReadAllTextAsync(root.Combine("etc", "logrotate.d", "odoo"), Ct));
        Assert.Equal(["odoo"], Directory.GetFiles(root.Combine("etc", "logrotate.d")).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Apply_WorldWritableMode_FailsBecauseLogrotateWouldIgnoreTheFile()
    {
        Assert.SkipUnless(ProcessCommandRunner.IsOnPath("logrotate"), "logrotate is not installed");
        using var root = new TempDirectory();
        const UnixFileMode Mode0666 = FileModes.Mode0644 | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

        var outcome = await NewEngine().RunAsync([Config(root, LogrotateRenderer.Render(Spec), Mode0666)], ConvergeMode.Apply, Ct);

        Assert.Equal(ResourceStatus.Failed, outcome.Results[0].Status);
        Assert.Contains("writable by group or others", outcome.Results[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Apply_NewVersion_PreviousCopyIsNotReadByLogrotate()
    {
        Assert.SkipUnless(ProcessCommandRunner.IsOnPath("logrotate"), "logrotate is not installed");
        using var root = new TempDirectory();
        await NewEngine().RunAsync([Config(root, LogrotateRenderer.Render(Spec with { Rotate = 7 }))], ConvergeMode.Apply, Ct);
        await NewEngine().RunAsync([Config(root, LogrotateRenderer.Render(Spec))], ConvergeMode.Apply, Ct);
        var directory = root.Combine("etc", "logrotate.d");

        // logrotate reads every file of an included directory: a plain ".previous" would be a duplicate entry.
        var result = await new ProcessCommandRunner().RunAsync(
            new CommandSpec("logrotate", ["-d", "--state", root.Combine("status"), "--", directory]), Ct);

        Assert.Equal(["odoo", "odoo.previous~"], Directory.GetFiles(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.True(result.Succeeded, result.Stderr);
        Assert.DoesNotContain("error:", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("Ignoring odoo.previous~", result.Stderr, StringComparison.Ordinal);
    }
}
