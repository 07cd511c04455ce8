using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Tests.Profiles;

public sealed class OdooConfRendererTests
{
    private static readonly OdooDesired Spec = new(new ReleaseRef("18.0", new string('a', 40)), "file:///srv/odoo.git", 8069, 8072);

    [Fact]
    public void Render_DefaultLayout_ExactProductionConfig()
    {
        const string Expected = """
            ; Managed by odoofleet-agent: local changes are put back on the next converge.
            [options]
            http_interface = 127.0.0.1
            http_port = 8069
            gevent_port = 8072
            proxy_mode = True
            data_dir = /var/lib/odoo
            logfile = /var/log/odoo/odoo.log
            list_db = False
            without_demo = all
            db_host = False
            db_user = odoo

            """;
        Assert.Equal(Expected, OdooConfRenderer.Render(Spec, OdooLayout.Default));
    }

    [Fact]
    public void Render_CustomPorts_WritesThem()
    {
        var text = OdooConfRenderer.Render(Spec with { HttpPort = 18069, GeventPort = 18072 }, OdooLayout.Default);
        Assert.Contains("\nhttp_port = 18069\n", text, StringComparison.Ordinal);
        Assert.Contains("\ngevent_port = 18072\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_AnySpec_WritesOnlyKnownOdoo18Options()
    {
        var keys = OdooConfRenderer.Render(Spec, OdooLayout.Default)
            .Split('\n')
            .Where(line => line.Contains(" = ", StringComparison.Ordinal))
            .Select(line => line[..line.IndexOf(" = ", StringComparison.Ordinal)])
            .ToList();
        Assert.NotEmpty(keys);
        Assert.All(keys, key => Assert.Contains(key, OdooConfRenderer.KnownOptions));
    }

    [Theory]
    [InlineData("xmlrpc_interface")]
    [InlineData("longpolling_port")]
    [InlineData("redis_host")]
    [InlineData("logrotate")]
    public void KnownOptions_SeedGuideMistakes_AreNotKnown(string key) =>
        Assert.DoesNotContain(key, OdooConfRenderer.KnownOptions);
}
