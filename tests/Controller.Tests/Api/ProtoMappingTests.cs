using OdooFleet.Controller.Api;
using OdooFleet.Controller.Domain;
using Xunit;
using V1 = OdooFleet.Contracts.V1;

namespace OdooFleet.Controller.Tests.Api;

public sealed class ProtoMappingTests
{
    private static readonly ProfileDefaults Defaults = new("ops@example.org", "info", 5, 600, 3600);

    [Fact]
    public void HostSpecToProto_ProfileWithDefaults_FillsEverySection()
    {
        var profile = HostProfile.Default with
        {
            Domains = ["erp.example.org", "www.example.org"],
            Tls = TlsSetting.Acme,
            Workers = 5,
            OdooOptions = new SortedDictionary<string, string>(StringComparer.Ordinal) { ["limit_time_cpu"] = "600" },
            Postgres = new RemotePostgres("db1.example.org", null, "odoo_app", "verify-full"),
            LoginBanSeconds = 86400,
            UnattendedUpgradesOff = true,
        };
        var spec = new HostSpec("h-abcdefghjk", 4, new OdooRelease("18.0", new string('a', 40)), "file:///srv/odoo.git", 8069, 8072)
        {
            Profile = ProfileRules.WithDefaults(profile, Defaults),
        };

        var proto = spec.ToProto();

        Assert.Equal(5, proto.Odoo.Workers);
        Assert.Equal(0, proto.Odoo.MaxCronThreads);
        Assert.Equal("600", proto.Odoo.Options["limit_time_cpu"]);
        Assert.Equal("info", proto.Odoo.LogLevel);
        Assert.Equal(["erp.example.org", "www.example.org"], proto.Web.Domains);
        Assert.Equal(V1.TlsMode.Acme, proto.Web.Tls);
        Assert.Equal("ops@example.org", proto.Web.AcmeEmail);
        Assert.False(proto.Web.DatabaseManager);
        Assert.True(proto.Postgres.Remote);
        Assert.Equal("db1.example.org", proto.Postgres.Host);
        Assert.Equal(0, proto.Postgres.Port);
        Assert.Equal("odoo_app", proto.Postgres.User);
        Assert.Equal("verify-full", proto.Postgres.Sslmode);
        Assert.Equal("", proto.Postgres.Password);
        Assert.Equal(5, proto.Security.LoginMaxRetry);
        Assert.Equal(600, proto.Security.LoginFindTimeSeconds);
        Assert.Equal(86400, proto.Security.LoginBanSeconds);
        Assert.True(proto.Security.UnattendedUpgradesOff);
    }

    [Fact]
    public void HostSpecToProto_DefaultProfile_LocalPostgresSelfSigned()
    {
        var proto = new HostSpec("h-abcdefghjk", 1, null, "file:///srv/odoo.git", 8069, 8072).ToProto();

        Assert.False(proto.Postgres.Remote);
        Assert.Equal(V1.TlsMode.SelfSigned, proto.Web.Tls);
        Assert.Empty(proto.Web.Domains);
        Assert.Empty(proto.Odoo.Options);
    }

    [Fact]
    public void ConfigureRequestToDomain_UnsetFieldsStayNullSetEmptyValuesKept()
    {
        var request = new V1.ConfigureHostRequest
        {
            Id = "web-01",
            Workers = 0,
            LogLevel = "",
            Tls = V1.TlsMode.Acme,
            Domains = new V1.StringList(),
            SetOdooOptions = { ["limit_time_cpu"] = "600" },
        };

        var change = request.ToDomain();

        Assert.Equal(0, change.Workers);
        Assert.Equal("", change.LogLevel);
        Assert.Equal(TlsSetting.Acme, change.Tls);
        Assert.NotNull(change.Domains);
        Assert.Empty(change.Domains);
        Assert.Equal("600", change.SetOptions!["limit_time_cpu"]);
        Assert.Null(change.MaxCronThreads);
        Assert.Null(change.AcmeEmail);
        Assert.Null(change.PostgresRemote);
        Assert.Null(change.UnsetOptions);
        Assert.Null(change.DatabaseManager);
    }

    [Fact]
    public void ConfigureRequestToDomain_UnknownTlsNumber_RefusedByValidation()
    {
        var change = new V1.ConfigureHostRequest { Id = "web-01", Tls = (V1.TlsMode)7 }.ToDomain();

        Assert.Contains("tls: unknown mode", Assert.Single(ProfileRules.Validate(change)), StringComparison.Ordinal);
    }
}
