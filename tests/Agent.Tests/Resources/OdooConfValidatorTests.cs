using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

/// <summary>The odoo.conf validator with the real python3 configparser, as Odoo reads the file.</summary>
public sealed class OdooConfValidatorTests
{
    private static readonly HashSet<string> Known = ["http_port", "workers", "admin_passwd"];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<Exception?> ValidateAsync(string content)
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("odoo.conf");
        await File.WriteAllTextAsync(path, content, Ct);
        return await Record.ExceptionAsync(() => new OdooConfValidator(new ProcessCommandRunner(), Known).ValidateAsync(path, Ct));
    }

    [Fact]
    public async Task Validate_KnownKeys_Passes()
    {
        Assert.Null(await ValidateAsync("[options]\nhttp_port = 8069\nworkers = 5\nadmin_passwd = $pbkdf2-sha512$600000$abc$def\n"));
    }

    [Theory]
    [InlineData("[options]\nredis = True\n", "redis")]
    [InlineData("[options]\nxmlrpc_interfac = 127.0.0.1\n", "xmlrpc_interfac")]
    public async Task Validate_UnknownKey_RejectedNamingIt(string content, string key)
    {
        var e = await ValidateAsync(content);

        var failure = Assert.IsType<ResourceFailedException>(e);
        Assert.Contains(key, failure.Message, StringComparison.Ordinal);
        Assert.Contains("old file is kept", failure.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http_port = 8069\n")]
    [InlineData("[options]\nworkers = 1\nworkers = 2\n")]
    [InlineData("[options\nworkers = 1\n")]
    public async Task Validate_NotParseableAsOdooReadsIt_Rejected(string content)
    {
        Assert.IsType<ResourceFailedException>(await ValidateAsync(content));
    }
}
