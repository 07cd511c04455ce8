using OdooFleet.Controller.Domain;
using Xunit;

namespace OdooFleet.Controller.Tests.Fuzz;

/// <summary>
/// The controller accepted ACME e-mails the agent refuses, so a stored profile would fail every
/// converge of the host (found by the fuzz tests): a leading '-' or '.', or a '%'.
/// </summary>
public sealed class AcmeEmailEscapeTests
{
    [Theory]
    [InlineData("--helpq@c.example.com")]
    [InlineData("-oops@example.com")]
    [InlineData(".ops@example.com")]
    [InlineData("2-m5im%4-rkn@example.com")]
    public void Validate_AcmeEmailTheAgentRefuses_RefusedNamingTheField(string email) =>
        Assert.StartsWith("acme_email: ", Assert.Single(ProfileRules.Validate(new ProfileChange { AcmeEmail = email })), StringComparison.Ordinal);

    [Theory]
    [InlineData("ops@example.com")]
    [InlineData("Ops.Team+acme_1@mail.example.com")]
    public void Validate_PlainAcmeEmail_Accepted(string email) => Assert.Empty(ProfileRules.Validate(new ProfileChange { AcmeEmail = email }));
}
