using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;
using OdooFleet.Agent.Tests.Profiles;

namespace OdooFleet.Agent.Tests.Resources;

/// <summary>odoo.conf checked by the real Python configparser and re that Odoo 18 reads it with.</summary>
public sealed class OdooConfValidatorTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task ValidateAsync(TempDirectory temp, string text)
    {
        var path = temp.Combine("odoo.conf");
        await File.WriteAllTextAsync(path, text, Ct);
        await new OdooConfValidator(new ProcessCommandRunner()).ValidateAsync(path, Ct);
    }

    [Fact]
    public async Task ValidateAsync_RenderedLocalAndRemote_Accepted()
    {
        using var temp = new TempDirectory();
        var overrides = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["smtp_password"] = "p@ss%word!", ["log_handler"] = ":INFO,werkzeug:WARNING", ["limit_time_cpu"] = "300",
        };

        await ValidateAsync(temp, OdooConfRenderer.Render(OdooConfRendererTests.Input(overrides)));
        await ValidateAsync(temp, OdooConfRenderer.Render(OdooConfRendererTests.Input() with
        {
            Database = new RemoteDatabase("db1.example.com", 5432, "odoo_acme", "s3cret!x%Y", "verify-full"),
            DbFilter = "^(?:acme|globex)$",
        }));
    }

    [Theory]
    [InlineData("[options]\nredis_host = localhost\n", "'redis_host' is not an Odoo 18 option")]
    [InlineData("[options]\nworkers = 2\nworkers = 3\n", "option 'workers' appears twice (line 3)")]
    [InlineData("workers = 2\n[options]\n", "line 1 comes before the [options] section")]
    [InlineData("[options]\nworkers = 2\n[other]\nx = 1\n", "sections ['options', 'other'], expected only [options]")]
    [InlineData("[options]\nlog_level = info_rpc\n", "log_level is not an Odoo 18 level")]
    [InlineData("[options]\ndbfilter = (?<name>x)\n", "dbfilter does not compile with Python's re")]
    [InlineData("[options]\nworkers\n", "line(s) 2 are not \"key = value\"")]
    public async Task ValidateAsync_WhatOdooWouldMisread_RejectedWithReason(string text, string expected)
    {
        using var temp = new TempDirectory();

        var error = await Assert.ThrowsAsync<ResourceFailedException>(() => ValidateAsync(temp, text));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ValidateAsync_BrokenFileWithSecret_SecretNotInMessage()
    {
        using var temp = new TempDirectory();

        var error = await Assert.ThrowsAsync<ResourceFailedException>(() =>
            ValidateAsync(temp, "[options]\nadmin_passwd = hunter2\nadmin_passwd = hunter3\n"));

        Assert.DoesNotContain("hunter", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FileResource_InvalidNewContent_FailsAndKeepsTheOldFile()
    {
        using var temp = new TempDirectory();
        var paths = new HostPaths(temp.Path);
        Directory.CreateDirectory(paths.Resolve("/etc"));
        var good = OdooConfRenderer.Render(OdooConfRendererTests.Input());
        await File.WriteAllTextAsync(paths.Resolve("/etc/odoo.conf"), good, Ct);
        var runner = new ProcessCommandRunner();
        var bad = Encoding.UTF8.GetBytes(good + "redis = True\n");
        var file = new FileResource(paths, runner, "/etc/odoo.conf", bad, FileModes.Mode0640, null, new OdooConfValidator(runner))
        {
            Redact = OdooConfRenderer.Redact,
        };

        var outcome = await new ConvergeEngine(TimeProvider.System, NullLogger<ConvergeEngine>.Instance).RunAsync([file], ConvergeMode.Apply, Ct);

        var result = Assert.Single(outcome.Results);
        Assert.Equal(ResourceStatus.Failed, result.Status);
        Assert.Contains("'redis' is not an Odoo 18 option", result.Message, StringComparison.Ordinal);
        Assert.Equal(good, await File.ReadAllTextAsync(paths.Resolve("/etc/odoo.conf"), Ct));
        Assert.Equal(["odoo.conf"], Directory.GetFiles(paths.Resolve("/etc")).Select(Path.GetFileName));
    }

    [Fact]
    public async Task FileResource_ChangedConfig_DiffRedactsSecrets()
    {
        using var temp = new TempDirectory();
        var paths = new HostPaths(temp.Path);
        Directory.CreateDirectory(paths.Resolve("/etc"));
        var old = OdooConfRenderer.Render(OdooConfRendererTests.Input());
        await File.WriteAllTextAsync(paths.Resolve("/etc/odoo.conf"), old, Ct);
        var next = OdooConfRenderer.Render(OdooConfRendererTests.Input() with
        {
            AdminPasswordHash = AdminPassword.Generate().Hash,
            Database = new RemoteDatabase("db1.example.com", 5432, "odoo_acme", "s3cret!x%Y", "verify-full"),
        });
        var runner = new ProcessCommandRunner();
        var file = new FileResource(paths, runner, "/etc/odoo.conf", Encoding.UTF8.GetBytes(next), FileModes.Mode0640, null, new OdooConfValidator(runner))
        {
            Redact = OdooConfRenderer.Redact,
        };

        var outcome = await new ConvergeEngine(TimeProvider.System, NullLogger<ConvergeEngine>.Instance).RunAsync([file], ConvergeMode.Apply, Ct);

        var result = Assert.Single(outcome.Results);
        Assert.Equal(ResourceStatus.Changed, result.Status);
        Assert.Contains("+db_password = <redacted>", result.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", result.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("$pbkdf2-sha512$", result.Detail, StringComparison.Ordinal);
        Assert.Equal(next, await File.ReadAllTextAsync(paths.Resolve("/etc/odoo.conf"), Ct));
    }
}
