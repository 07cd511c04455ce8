using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Fuzz;

/// <summary>A hostile pg_hba rule type reached an error message raw, escape sequences and all (found by the fuzz tests).</summary>
public sealed class PgHbaEchoEscapeTests
{
    [Fact]
    public void Validate_PeerWithHostileType_ErrorEchoesTypePrintable()
    {
        var errors = new PgHbaSpec([new PgHbaRule("\u001b[2J\u2028host", "all", "all", "10.0.0.0/8", "peer")]).Validate();

        Assert.Contains(errors, e => e.StartsWith("postgres.hba[0].method: ", StringComparison.Ordinal));
        Assert.All(errors, e => Assert.DoesNotContain(e, c => char.IsControl(c) || c == '\u2028'));
    }
}
