using System.Net.Sockets;
using Grpc.Core;
using OdooFleet.Cli.Transport;

namespace OdooFleet.Cli.Tests.Transport;

public sealed class RpcErrorsTests
{
    [Theory]
    [InlineData(StatusCode.InvalidArgument, ExitCodes.Usage)]
    [InlineData(StatusCode.NotFound, ExitCodes.NotFoundOrDenied)]
    [InlineData(StatusCode.PermissionDenied, ExitCodes.NotFoundOrDenied)]
    [InlineData(StatusCode.Unauthenticated, ExitCodes.NotFoundOrDenied)]
    [InlineData(StatusCode.FailedPrecondition, ExitCodes.Failed)]
    public void Map_ServerRejection_ServerMessageAndExitCode(StatusCode code, int exitCode)
    {
        var error = RpcErrors.Map(new RpcException(new Status(code, "host 'web-9' not found; list hosts with `fleet hosts`")), "http://c:7001", apiTokenConfigured: true);

        Assert.Equal(exitCode, error.ExitCode);
        Assert.Equal("host 'web-9' not found; list hosts with `fleet hosts`", error.Message);
    }

    [Fact]
    public void Map_Unavailable_NamesControllerCauseAndFix()
    {
        var cause = new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused (c:7001)", new SocketException((int)SocketError.ConnectionRefused));
        var rpc = new RpcException(new Status(StatusCode.Unavailable, "Error connecting to subchannel.", cause));

        var error = RpcErrors.Map(rpc, "http://c:7001", apiTokenConfigured: false);

        Assert.Equal(ExitCodes.Unreachable, error.ExitCode);
        Assert.Equal(
            "cannot reach controller at http://c:7001: Error connecting to subchannel: Connection refused (c:7001); is it running? check --controller / FLEET_CONTROLLER",
            error.Message);
        Assert.True(RpcErrors.NeverSent(rpc));
    }

    [Fact]
    public void Map_DeadlineExceeded_Timeout()
    {
        var error = RpcErrors.Map(new RpcException(new Status(StatusCode.DeadlineExceeded, "")), "http://c:7001", apiTokenConfigured: true);

        Assert.Equal(ExitCodes.Timeout, error.ExitCode);
        Assert.Contains("http://c:7001", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Map_UnauthenticatedWithoutToken_SaysNoTokenConfigured()
    {
        var error = RpcErrors.Map(new RpcException(new Status(StatusCode.Unauthenticated, "API token missing or wrong")), "http://c:7001", apiTokenConfigured: false);

        Assert.Equal("API token missing or wrong (no apiToken is configured for this controller)", error.Message);
    }

    [Fact]
    public void Map_UnexpectedCode_FailedWithCodeAndDetail()
    {
        var error = RpcErrors.Map(new RpcException(new Status(StatusCode.Internal, "boom")), "http://c:7001", apiTokenConfigured: true);

        Assert.Equal(ExitCodes.Failed, error.ExitCode);
        Assert.Equal("controller at http://c:7001 failed (Internal): boom", error.Message);
    }

    [Fact]
    public void NeverSent_UnavailableAfterRequestWasSent_False() =>
        Assert.False(RpcErrors.NeverSent(new RpcException(new Status(StatusCode.Unavailable, "connection reset"))));

    [Theory]
    [InlineData(StatusCode.Unavailable, true)]
    [InlineData(StatusCode.Internal, true)]
    [InlineData(StatusCode.Unknown, true)]
    [InlineData(StatusCode.NotFound, false)]
    [InlineData(StatusCode.PermissionDenied, false)]
    public void IsTransient_Code_WatchReconnectsOnlyOnControllerTrouble(StatusCode code, bool transient) =>
        Assert.Equal(transient, RpcErrors.IsTransient(new RpcException(new Status(code, ""))));

    [Theory]
    [InlineData(StatusCode.Cancelled, true, true)]
    [InlineData(StatusCode.Cancelled, false, false)]
    [InlineData(StatusCode.Unavailable, true, false)]
    public void IsOwnCancellation_CancelledWhileOurTokenFired_True(StatusCode code, bool tokenFired, bool own)
    {
        using var source = new CancellationTokenSource();
        if (tokenFired)
        {
            source.Cancel();
        }

        Assert.Equal(own, RpcErrors.IsOwnCancellation(new RpcException(new Status(code, "")), source.Token));
    }

    [Theory]
    [InlineData(1, 0.5, 500)]
    [InlineData(2, 0.5, 1000)]
    [InlineData(3, 0.0, 1500)]
    [InlineData(3, 1.0, 2500)]
    [InlineData(50, 0.5, 10000)]
    public void ReconnectBackoff_Attempt_ExponentialCappedWithJitter(int attempt, double jitter, double milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), ReconnectBackoff.Delay(attempt, jitter));
}
