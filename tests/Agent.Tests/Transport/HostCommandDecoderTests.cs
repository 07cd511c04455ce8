using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using OdooFleet.Agent.Transport;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Tests.Transport;

public sealed class HostCommandDecoderTests
{
    private const string HostId = "h_abc";

    private static byte[] Converge(string hostId, long generation) =>
        new HostCommand { CommandId = "c_1", HostId = hostId, Converge = new ConvergeCommand { Generation = generation } }.ToByteArray();

    [Fact]
    public void Decide_MalformedBytes_RejectedWithReason()
    {
        var decision = HostCommandDecoder.Decide(new byte[] { 0xff, 0xff, 0xff, 0x01, 0x02 }, HostId, 0);
        var reject = Assert.IsType<CommandDecision.Reject>(decision);
        Assert.Contains("not a protobuf fleet.v1.HostCommand", reject.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_EmptyBody_Rejected()
    {
        var reject = Assert.IsType<CommandDecision.Reject>(HostCommandDecoder.Decide([], HostId, 0));
        Assert.Contains("empty body", reject.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_OtherHost_RejectedNamingBoth()
    {
        var reject = Assert.IsType<CommandDecision.Reject>(HostCommandDecoder.Decide(Converge("h_other", 3), HostId, 0));
        Assert.Contains("h_other", reject.Reason, StringComparison.Ordinal);
        Assert.Contains(HostId, reject.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_NoKnownKind_Rejected()
    {
        var body = new HostCommand { CommandId = "c_2", HostId = HostId }.ToByteArray();
        var reject = Assert.IsType<CommandDecision.Reject>(HostCommandDecoder.Decide(body, HostId, 0));
        Assert.Contains("no known command kind", reject.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_UnknownFutureKind_Rejected()
    {
        // Field 15 is not in this agent's HostCommand: a newer controller's command kind.
        var known = new HostCommand { CommandId = "c_3", HostId = HostId }.ToByteArray();
        byte[] body = [.. known, 0x7a, 0x02, 0x08, 0x01];
        Assert.IsType<CommandDecision.Reject>(HostCommandDecoder.Decide(body, HostId, 0));
    }

    private static byte[] Plan(string hostId, string requestId) =>
        new HostCommand
        {
            CommandId = "c_9",
            HostId = hostId,
            IssuedAt = Timestamp.FromDateTimeOffset(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero)),
            Plan = new PlanCommand { RequestId = requestId },
        }.ToByteArray();

    [Fact]
    public void Decide_PlanForThisHost_PlanWithRequestIdAndIssuedAt()
    {
        var plan = Assert.IsType<CommandDecision.Plan>(HostCommandDecoder.Decide(Plan(HostId, "p-3kq9t2mzpa"), HostId, 5));

        Assert.Equal("p-3kq9t2mzpa", plan.RequestId);
        Assert.Equal("c_9", plan.CommandId);
        Assert.Equal(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero), plan.IssuedAt);
    }

    [Fact]
    public void Decide_PlanForAnotherHost_RejectedNamingBoth()
    {
        var reject = Assert.IsType<CommandDecision.Reject>(HostCommandDecoder.Decide(Plan("h_other", "p-3kq9t2mzpa"), HostId, 0));

        Assert.Contains("h_other", reject.Reason, StringComparison.Ordinal);
        Assert.Contains(HostId, reject.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("p 1")]
    [InlineData("p-1\n")]
    [InlineData("../../etc/passwd")]
    [InlineData("p-\u001b[2J")]
    public void Decide_PlanWithMalformedRequestId_Rejected(string requestId)
    {
        var reject = Assert.IsType<CommandDecision.Reject>(HostCommandDecoder.Decide(Plan(HostId, requestId), HostId, 0));

        Assert.Contains("plan request_id", reject.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', reject.Reason);
        Assert.DoesNotContain('\u001b', reject.Reason);
    }

    [Fact]
    public void Decide_PlanRequestIdOver64Characters_Rejected() =>
        Assert.IsType<CommandDecision.Reject>(HostCommandDecoder.Decide(Plan(HostId, new string('p', 65)), HostId, 0));

    [Fact]
    public void Decide_NonPositiveGeneration_Rejected() =>
        Assert.IsType<CommandDecision.Reject>(HostCommandDecoder.Decide(Converge(HostId, 0), HostId, 0));

    [Fact]
    public void Decide_GenerationAlreadyReported_AckedAsDuplicate()
    {
        var done = Assert.IsType<CommandDecision.AlreadyDone>(HostCommandDecoder.Decide(Converge(HostId, 4), HostId, 5));
        Assert.Equal(4, done.Generation);
    }

    [Fact]
    public void Decide_NewGeneration_Converges()
    {
        var converge = Assert.IsType<CommandDecision.Converge>(HostCommandDecoder.Decide(Converge(HostId, 6), HostId, 5));
        Assert.Equal(6, converge.Generation);
        Assert.Equal("c_1", converge.CommandId);
    }
}
