using OdooFleet.Agent.Transport;

namespace OdooFleet.Agent.Tests.Transport;

public sealed class RenewalScheduleTests
{
    private static readonly DateTimeOffset NotBefore = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    // A 7-day certificate (168 h): renewal is due from hour 112.
    public static TheoryData<double, string> Cases => new()
    {
        { -1, nameof(RenewalState.NotDue) },      // not yet valid (clock behind): nothing to renew yet
        { 0, nameof(RenewalState.NotDue) },
        { 111.99, nameof(RenewalState.NotDue) },
        { 112, nameof(RenewalState.Due) },
        { 150, nameof(RenewalState.Due) },
        { 168, nameof(RenewalState.Due) },        // NotAfter itself is still valid
        { 168.01, nameof(RenewalState.Expired) },
        { 1000, nameof(RenewalState.Expired) },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Decide_HoursIntoSevenDayCertificate_State(double hours, string expected)
    {
        var decision = RenewalSchedule.Decide(NotBefore, NotBefore.AddDays(7), NotBefore.AddHours(hours));

        Assert.Equal(expected, decision.State.ToString());
        Assert.Equal(NotBefore.AddHours(112), decision.RenewAt);
    }

    [Fact]
    public void Decide_OneHourCertificate_DueAfterFortyMinutes() =>
        Assert.Equal(NotBefore.AddMinutes(40), RenewalSchedule.Decide(NotBefore, NotBefore.AddHours(1), NotBefore).RenewAt);
}
