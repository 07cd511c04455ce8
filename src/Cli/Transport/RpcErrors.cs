using Grpc.Core;

namespace OdooFleet.Cli.Transport;

/// <summary>gRPC failures as one line a person can act on, with the documented exit code.</summary>
internal static class RpcErrors
{
    public static CliException Map(RpcException error, string controller, bool apiTokenConfigured)
    {
        var detail = Detail(error);
        return error.StatusCode switch
        {
            StatusCode.Unavailable => Unreachable(controller, detail),
            StatusCode.DeadlineExceeded => new CliException(ExitCodes.Timeout, $"controller at {controller} did not answer in time: {detail}"),
            StatusCode.InvalidArgument or StatusCode.OutOfRange => new CliException(ExitCodes.Usage, detail),
            StatusCode.NotFound or StatusCode.PermissionDenied => new CliException(ExitCodes.NotFoundOrDenied, detail),
            StatusCode.Unauthenticated => new CliException(
                ExitCodes.NotFoundOrDenied,
                apiTokenConfigured ? detail : $"{detail} (no apiToken is configured for this controller)"),
            StatusCode.FailedPrecondition or StatusCode.AlreadyExists or StatusCode.Aborted or StatusCode.ResourceExhausted => new CliException(ExitCodes.Failed, detail),
            StatusCode.Cancelled => new CliException(ExitCodes.Failed, $"the call to {controller} was cancelled: {detail}"),
            _ => new CliException(ExitCodes.Failed, $"controller at {controller} failed ({error.StatusCode}): {detail}"),
        };
    }

    public static CliException Unreachable(string controller, string detail) =>
        new(ExitCodes.Unreachable, $"cannot reach controller at {controller}: {detail}; is it running? check --controller / FLEET_CONTROLLER");

    /// <summary>The server's message; for transport failures, the underlying socket error.</summary>
    public static string Detail(RpcException error)
    {
        var detail = error.Status.Detail.Trim();
        var cause = Cause(error.Status.DebugException);
        if (cause is not null && !detail.Contains(cause, StringComparison.Ordinal))
        {
            // Transport failures carry a generic detail ("Error connecting to subchannel."); the socket error says what happened.
            detail = detail.Length == 0 ? cause : $"{detail.TrimEnd('.')}: {cause}";
        }

        return detail.Length == 0 ? error.StatusCode.ToString() : detail;
    }

    private static string? Cause(Exception? exception)
    {
        string? message = null;
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (!string.IsNullOrWhiteSpace(e.Message))
            {
                message = e.Message.Trim();
            }

            if (e is HttpRequestException or System.Net.Sockets.SocketException)
            {
                return message;
            }
        }

        return message;
    }

    /// <summary>True when the request never left this machine (connect failed), so trying another controller cannot repeat it.</summary>
    public static bool NeverSent(RpcException error)
    {
        for (var e = error.Status.DebugException; e is not null; e = e.InnerException)
        {
            if (e is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError }
                or System.Net.Sockets.SocketException)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Our own cancellation (Ctrl+C, a --timeout) surfacing as a CANCELLED status instead of an
    /// OperationCanceledException: the client reports it that way when the token fires while a
    /// stream read is already failing, despite ThrowOperationCanceledOnCancellation.
    /// </summary>
    public static bool IsOwnCancellation(RpcException error, CancellationToken cancellationToken) =>
        error.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested;

    /// <summary>Failures a watch survives by reconnecting: the controller went away, not the rollout.</summary>
    public static bool IsTransient(RpcException error) =>
        error.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown or StatusCode.Aborted or StatusCode.Cancelled;
}
