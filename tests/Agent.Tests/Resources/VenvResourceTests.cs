using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

/// <summary>Real `python3 -m venv` and pip on this box; no network: empty requirements or a local wheelhouse.</summary>
public sealed class VenvResourceTests
{
    private const string Release = "/opt/odoo/releases/18.0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    private const string Wheelhouse = "/srv/wheelhouse";
    private const string Python = "/usr/bin/python3";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static ConvergeEngine NewEngine() => new(TimeProvider.System, NullLogger<ConvergeEngine>.Instance);

    private static async Task<ResourceResult> RunAsync(VenvResource venv, ConvergeMode mode = ConvergeMode.Apply) =>
        Assert.Single((await NewEngine().RunAsync([venv], mode, Ct)).Results);

    private static async Task<HostPaths> ReleaseAsync(TempDirectory temp, string requirements)
    {
        var paths = new HostPaths(temp.Combine("root"));
        Directory.CreateDirectory(paths.Resolve(Release));
        Directory.CreateDirectory(paths.Resolve(Wheelhouse));
        await File.WriteAllTextAsync(paths.Resolve($"{Release}/requirements.txt"), requirements, Ct);
        return paths;
    }

    private static VenvResource Venv(HostPaths paths, string? wheelhouse = null, Ownership? owner = null) =>
        new(paths, new ProcessCommandRunner(), new VenvSpec(Release) { Wheelhouse = wheelhouse, Owner = owner, Python = Python });

    private static async Task<CommandResult> RunProgramAsync(string program, params string[] arguments) =>
        await new ProcessCommandRunner().RunAsync(new CommandSpec(program, arguments), Ct);

    private static async Task<string> Sha256Async(string path) => Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(path, Ct)));

    private static string[] StagingDirs(HostPaths paths) =>
        Directory.GetDirectories(paths.Resolve(Release), VenvResource.StagingPrefix + "*");

    /// <summary>A minimal pure-Python wheel "odoofleet-probe" 1.0 with a console script printing 42.</summary>
    private static void WriteProbeWheel(string directory)
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["odoofleet_probe/__init__.py"] = "VALUE = 42\n\n\ndef main():\n    print(VALUE)\n",
            ["odoofleet_probe-1.0.dist-info/METADATA"] = "Metadata-Version: 2.1\nName: odoofleet-probe\nVersion: 1.0\n",
            ["odoofleet_probe-1.0.dist-info/WHEEL"] = "Wheel-Version: 1.0\nGenerator: odoofleet-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
            ["odoofleet_probe-1.0.dist-info/entry_points.txt"] = "[console_scripts]\nodoofleet-probe = odoofleet_probe:main\n",
        };
        var record = new StringBuilder();
        foreach (var (name, text) in files)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            var hash = Convert.ToBase64String(SHA256.HashData(bytes)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
            record.Append(System.Globalization.CultureInfo.InvariantCulture, $"{name},sha256={hash},{bytes.Length}\n");
        }

        files["odoofleet_probe-1.0.dist-info/RECORD"] = record.Append("odoofleet_probe-1.0.dist-info/RECORD,,\n").ToString();
        using var zip = ZipFile.Open(Path.Combine(directory, "odoofleet_probe-1.0-py3-none-any.whl"), ZipArchiveMode.Create);
        foreach (var (name, text) in files)
        {
            using var stream = zip.CreateEntry(name).Open();
            stream.Write(Encoding.UTF8.GetBytes(text));
        }
    }

    [Fact]
    public async Task RunAsync_Twice_ChangedThenUnchangedWithMarkerAndRealPaths()
    {
        using var temp = new TempDirectory();
        var paths = await ReleaseAsync(temp, "# Odoo's requirements would be here\n");
        var venvDir = paths.Resolve($"{Release}/.venv");

        var one = await RunAsync(Venv(paths));
        var two = await RunAsync(Venv(paths));

        Assert.Equal(ResourceStatus.Changed, one.Status);
        Assert.Contains($"create venv {Release}/.venv and install {Release}/requirements.txt from index", one.Message, StringComparison.Ordinal);
        Assert.Equal(ResourceStatus.Unchanged, two.Status);
        var version = (await RunProgramAsync(Python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])")).Stdout.Trim();
        Assert.Equal(
            "# Managed by odoofleet-agent: what was installed into this venv; a difference means rebuild.\n"
            + $"requirements-sha256 = {await Sha256Async(paths.Resolve($"{Release}/requirements.txt"))}\nsource = index\npython = {version}\n",
            await File.ReadAllTextAsync(Path.Combine(venvDir, VenvResource.MarkerName), Ct));
        Assert.Empty(StagingDirs(paths));
        // Long paths get pip's /bin/sh trampoline instead of a plain shebang; either way it names the real venv.
        Assert.Contains($"{venvDir}/bin/python", await File.ReadAllTextAsync(Path.Combine(venvDir, "bin", "pip"), Ct), StringComparison.Ordinal);
        Assert.All(
            Directory.GetFiles(Path.Combine(venvDir, "bin")).Append(Path.Combine(venvDir, "pyvenv.cfg")).Where(f => new FileInfo(f).LinkTarget is null),
            file => Assert.DoesNotContain(VenvResource.StagingPrefix, File.ReadAllText(file), StringComparison.Ordinal));
        Assert.True((await RunProgramAsync(Path.Combine(venvDir, "bin", "pip"), "--version")).Succeeded);
        Assert.Contains("include-system-site-packages = false", await File.ReadAllTextAsync(Path.Combine(venvDir, "pyvenv.cfg"), Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_PackageFromWheelhouse_InstalledAndItsScriptRuns()
    {
        using var temp = new TempDirectory();
        var paths = await ReleaseAsync(temp, "odoofleet-probe==1.0\n");
        WriteProbeWheel(paths.Resolve(Wheelhouse));
        var venvDir = paths.Resolve($"{Release}/.venv");

        var one = await RunAsync(Venv(paths, Wheelhouse));
        var two = await RunAsync(Venv(paths, Wheelhouse));

        Assert.Equal(ResourceStatus.Changed, one.Status);
        Assert.Equal(ResourceStatus.Unchanged, two.Status);
        var script = await RunProgramAsync(Path.Combine(venvDir, "bin", "odoofleet-probe"));
        Assert.True(script.Succeeded, script.Stderr);
        Assert.Equal("42", script.Stdout.Trim());
        Assert.Contains($"\nsource = wheelhouse {Wheelhouse}\n", await File.ReadAllTextAsync(Path.Combine(venvDir, VenvResource.MarkerName), Ct), StringComparison.Ordinal);
        Assert.DoesNotContain(Directory.GetFiles(venvDir, "*.pyc", SearchOption.AllDirectories), f => f.Contains("odoofleet_probe", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RunAsync_PackageNotInWheelhouse_FailsWithPipMessageAndLeavesNoVenv()
    {
        using var temp = new TempDirectory();
        var paths = await ReleaseAsync(temp, "odoofleet-missing==1.0\n");

        var result = await RunAsync(Venv(paths, Wheelhouse));

        Assert.Equal(ResourceStatus.Failed, result.Status);
        Assert.Contains("No matching distribution found for odoofleet-missing==1.0", result.Message, StringComparison.Ordinal);
        Assert.Contains("nothing was replaced", result.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(paths.Resolve($"{Release}/.venv")));
        Assert.Empty(StagingDirs(paths));
    }

    [Fact]
    public async Task RunAsync_RequirementsChanged_CheckReportsThenApplyRebuilds()
    {
        using var temp = new TempDirectory();
        var paths = await ReleaseAsync(temp, "# v1\n");
        var requirements = paths.Resolve($"{Release}/requirements.txt");
        var marker = paths.Resolve($"{Release}/.venv/{VenvResource.MarkerName}");
        await RunAsync(Venv(paths));
        var before = await File.ReadAllTextAsync(marker, Ct);
        await File.WriteAllTextAsync(requirements, "# v2\n", Ct);

        var check = await RunAsync(Venv(paths), ConvergeMode.Check);
        var afterCheck = await File.ReadAllTextAsync(marker, Ct);
        var apply = await RunAsync(Venv(paths));
        var again = await RunAsync(Venv(paths));

        Assert.Equal(ResourceStatus.Changed, check.Status);
        Assert.StartsWith($"would rebuild {Release}/.venv: requirements-sha256 ", check.Message, StringComparison.Ordinal);
        Assert.Equal(before, afterCheck);
        Assert.Equal(ResourceStatus.Changed, apply.Status);
        Assert.Contains($"requirements-sha256 = {await Sha256Async(requirements)}\n", await File.ReadAllTextAsync(marker, Ct), StringComparison.Ordinal);
        Assert.Equal(ResourceStatus.Unchanged, again.Status);
        Assert.Empty(StagingDirs(paths));
    }

    [Fact]
    public async Task RunAsync_FailedRebuild_KeepsThePreviousVenv()
    {
        using var temp = new TempDirectory();
        var paths = await ReleaseAsync(temp, "# v1\n");
        var marker = paths.Resolve($"{Release}/.venv/{VenvResource.MarkerName}");
        await RunAsync(Venv(paths, Wheelhouse));
        var before = await File.ReadAllTextAsync(marker, Ct);
        await File.WriteAllTextAsync(paths.Resolve($"{Release}/requirements.txt"), "odoofleet-missing==2.0\n", Ct);

        var result = await RunAsync(Venv(paths, Wheelhouse));

        Assert.Equal(ResourceStatus.Failed, result.Status);
        Assert.Equal(before, await File.ReadAllTextAsync(marker, Ct));
        Assert.Empty(StagingDirs(paths));
    }

    [Fact]
    public async Task RunAsync_CheckModeOnFreshRelease_TouchesNothing()
    {
        using var temp = new TempDirectory();
        var paths = await ReleaseAsync(temp, "");

        var result = await RunAsync(Venv(paths), ConvergeMode.Check);

        Assert.Equal(ResourceStatus.Changed, result.Status);
        Assert.StartsWith("would create venv", result.Message, StringComparison.Ordinal);
        Assert.Equal(["requirements.txt"], Directory.GetFileSystemEntries(paths.Resolve(Release)).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("marker", "no install marker")]
    [InlineData("python", "python 2.7 -> ")]
    [InlineData("interpreter", "its python does not run")]
    public async Task RunAsync_VenvDrifted_RebuiltAndStaleStagingRemoved(string drift, string expected)
    {
        using var temp = new TempDirectory();
        var paths = await ReleaseAsync(temp, "# none\n");
        var venvDir = paths.Resolve($"{Release}/.venv");
        var marker = Path.Combine(venvDir, VenvResource.MarkerName);
        await RunAsync(Venv(paths));
        Directory.CreateDirectory(paths.Resolve($"{Release}/{VenvResource.StagingPrefix}killed"));
        switch (drift)
        {
            case "marker":
                File.Delete(marker);
                break;
            case "python":
                await File.WriteAllTextAsync(marker, string.Join('\n', (await File.ReadAllLinesAsync(marker, Ct)).Select(l => l.StartsWith("python = ", StringComparison.Ordinal) ? "python = 2.7" : l)) + "\n", Ct);
                break;
            default:
                File.Delete(Path.Combine(venvDir, "bin", "python3"));
                break;
        }

        var result = await RunAsync(Venv(paths));
        var again = await RunAsync(Venv(paths));

        Assert.Equal(ResourceStatus.Changed, result.Status);
        Assert.Contains(expected, result.Message, StringComparison.Ordinal);
        Assert.Contains("remove 1 stale staging dir(s)", result.Message, StringComparison.Ordinal);
        Assert.Equal(ResourceStatus.Unchanged, again.Status);
        Assert.Empty(StagingDirs(paths));
    }

    [Fact]
    public async Task RunAsync_OwnerGiven_BuildsAsThatUserThroughRunuser()
    {
        Assert.SkipUnless(Environment.UserName == "root", "runuser needs root");
        using var temp = new TempDirectory();
        var paths = await ReleaseAsync(temp, "# none\n");
        var owner = new Ownership("root", "root");

        var one = await RunAsync(Venv(paths, owner: owner));
        var two = await RunAsync(Venv(paths, owner: owner));

        Assert.Equal(ResourceStatus.Changed, one.Status);
        Assert.Equal(ResourceStatus.Unchanged, two.Status);
        Assert.Equal(owner, await Ownership.ReadAsync(new ProcessCommandRunner(), paths.Resolve($"{Release}/.venv/{VenvResource.MarkerName}"), Ct));
    }

    [Fact]
    public async Task RunAsync_NoRequirementsFile_FailsNamingIt()
    {
        using var temp = new TempDirectory();
        var paths = await ReleaseAsync(temp, "");
        File.Delete(paths.Resolve($"{Release}/requirements.txt"));

        var result = await RunAsync(Venv(paths));

        Assert.Equal(ResourceStatus.Failed, result.Status);
        Assert.Equal($"{Release}/requirements.txt does not exist; the release must ship Odoo's requirements.txt", result.Message);
    }

    [Fact]
    public async Task RunAsync_WheelhouseMissing_FailsNamingIt()
    {
        using var temp = new TempDirectory();
        var paths = await ReleaseAsync(temp, "");

        var result = await RunAsync(Venv(paths, "/srv/no-such-wheelhouse"));

        Assert.Equal(ResourceStatus.Failed, result.Status);
        Assert.StartsWith("wheelhouse /srv/no-such-wheelhouse does not exist", result.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("relative/release", null, null, "venv.release_dir: 'relative/release'")]
    [InlineData("/opt/odoo/../etc", null, null, "venv.release_dir: '/opt/odoo/../etc'")]
    [InlineData("/", null, null, "venv.release_dir: '/'")]
    [InlineData(Release, "wheels", null, "odoo.wheelhouse: 'wheels'")]
    [InlineData(Release, "/srv/wheels;rm", null, "odoo.wheelhouse: '/srv/wheels;rm'")]
    [InlineData(Release, null, "Odoo", "venv.owner: 'Odoo:odoo'")]
    public void Constructor_InvalidSpec_Throws(string releaseDir, string? wheelhouse, string? owner, string expectedStart)
    {
        var spec = new VenvSpec(releaseDir) { Wheelhouse = wheelhouse, Owner = owner is null ? null : new Ownership(owner, "odoo") };

        var error = Assert.Throws<SpecValidationException>(() => new VenvResource(HostPaths.System, new ProcessCommandRunner(), spec));

        Assert.StartsWith(expectedStart, Assert.Single(error.Errors), StringComparison.Ordinal);
    }
}
