using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Tests.Profiles;

public sealed class OsProfileTests
{
    [Theory]
    [InlineData("debian", "12", "bookworm", 15, false)]
    [InlineData("ubuntu", "22.04", "jammy", 16, true)]
    [InlineData("ubuntu", "24.04", "noble", 16, false)]
    public void Resolve_SupportedRelease_PicksItsPostgres(string id, string version, string codename, int pg, bool pgdg)
    {
        var os = OsProfile.Resolve(id, version);

        Assert.Equal(codename, os.Codename);
        Assert.Equal(pg, os.PostgresMajor);
        Assert.Equal(pgdg, os.PostgresFromPgdg);
        Assert.Equal($"postgresql-{pg}", os.PostgresPackage);
    }

    [Theory]
    [InlineData("ubuntu", "20.04")]
    [InlineData("debian", "11")]
    [InlineData("centos", "9")]
    [InlineData("debian\n", "12")]
    public void Resolve_UnsupportedRelease_ErrorNamesSupportedOnes(string id, string version)
    {
        var e = Assert.Throws<SpecValidationException>(() => OsProfile.Resolve(id, version));

        Assert.Contains("debian 12, ubuntu 22.04, ubuntu 24.04", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PgdgSource_Jammy_SignedByTheKeyPostgresqlCommonShips()
    {
        var source = OsProfile.Resolve("ubuntu", "22.04").PgdgSource;

        Assert.Contains("Suites: jammy-pgdg\n", source, StringComparison.Ordinal);
        Assert.Contains($"Signed-By: {OsProfile.PgdgKey}\n", source, StringComparison.Ordinal);
    }
}
