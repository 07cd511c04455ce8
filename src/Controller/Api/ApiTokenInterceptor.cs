using System.Collections.Concurrent;
using System.Security.Cryptography;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Options;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Hosting;
using OdooFleet.Controller.Persistence;

namespace OdooFleet.Controller.Api;

/// <summary>
/// Every FleetService call needs "authorization: Bearer &lt;token&gt;": the configured
/// Fleet:ApiToken (the bootstrap admin) or an API token whose role is at least the method's
/// (<see cref="AccessPolicy"/>). Without either the call is refused: there is no open mode.
/// Mutating calls are audited with their outcome, allowed or not; refused reads are audited too.
/// </summary>
internal sealed partial class ApiTokenInterceptor(
    ApiTokenStore tokens,
    AuditStore audit,
    IOptions<FleetOptions> options,
    TimeProvider time,
    ILogger<ApiTokenInterceptor> logger) : Interceptor
{
    public const string UnauthenticatedMessage =
        "API token missing, unknown, expired or revoked; set \"apiToken\" in the fleet config file (see fleet --help) "
        + "to a token an admin made with `fleet apitoken create`";

    private const int MaxDetailLength = 16 * 1024;
    private static readonly TimeSpan UseResolution = TimeSpan.FromMinutes(1);
    private static readonly string[] TargetFields = ["id", "host_name", "name", "series"];
    private static readonly string[] SecretWords = ["token", "password", "secret"];

    private readonly ConcurrentDictionary<string, DateTimeOffset> lastTouched = new(StringComparer.Ordinal);

    /// <summary>The caller the interceptor admitted; anonymous when none did.</summary>
    public static Caller CallerOf(ServerCallContext context) =>
        context.UserState.TryGetValue(typeof(Caller), out var value) && value is Caller caller ? caller : Caller.Anonymous;

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var call = await AdmitAsync(request as IMessage, context);
        if (!call.Audited)
        {
            return await continuation(request, context);
        }

        try
        {
            var response = await continuation(request, context);
            await RecordAsync(call, "ok");
            return response;
        }
        catch (Exception e)
        {
            await RecordAsync(call, Outcome(e));
            throw;
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var call = await AdmitAsync(request as IMessage, context);
        await RunAsync(call, () => continuation(request, responseStream, context));
    }

    // FleetService has no client or bidirectional streams today; one added later is not let through unchecked.
    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var call = await AdmitAsync(null, context);
        TResponse response = default!;
        await RunAsync(call, async () => response = await continuation(requestStream, context));
        return response;
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var call = await AdmitAsync(null, context);
        await RunAsync(call, () => continuation(requestStream, responseStream, context));
    }

    private async Task RunAsync(AdmittedCall call, Func<Task> body)
    {
        if (!call.Audited)
        {
            await body();
            return;
        }

        try
        {
            await body();
            await RecordAsync(call, "ok");
        }
        catch (Exception e)
        {
            await RecordAsync(call, Outcome(e));
            throw;
        }
    }

    private async Task<AdmittedCall> AdmitAsync(IMessage? request, ServerCallContext context)
    {
        var method = AccessPolicy.MethodName(context.Method);
        var (target, detail) = Describe(request);
        var call = new AdmittedCall(method, Caller.Anonymous, target, detail, Address(context), AccessPolicy.IsMutating(method));

        var (caller, refusal) = await AuthenticateAsync(Bearer(context), context.CancellationToken);
        call = call with { Caller = caller };
        if (refusal is not null)
        {
            await RecordAsync(call, $"denied: {refusal}");
            LogRefused(logger, method, caller.Actor, call.Address, refusal);
            throw new RpcException(new Status(StatusCode.Unauthenticated, UnauthenticatedMessage));
        }

        if (!AccessPolicy.MinimumRole.TryGetValue(method, out var required))
        {
            await RecordAsync(call, "denied: the method has no role in the access table");
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"{method} is not open to any role on this controller"));
        }

        if (caller.Role < required)
        {
            var reason = $"{method} needs role {required.ToText()}; token '{caller.TokenName ?? caller.Actor}' has {caller.Role.ToText()}";
            await RecordAsync(call, $"denied: {reason}");
            LogRefused(logger, method, caller.Actor, call.Address, reason);
            throw new RpcException(new Status(StatusCode.PermissionDenied,
                $"{reason}; ask an admin for a token with `fleet apitoken create --role {required.ToText()}`"));
        }

        context.UserState[typeof(Caller)] = caller;
        return call;
    }

    /// <summary>The caller, or the refusal reason (for the audit log only: the caller always gets one message).</summary>
    private async Task<(Caller Caller, string? Refusal)> AuthenticateAsync(string presented, CancellationToken ct)
    {
        if (presented.Length == 0)
        {
            return (Caller.Anonymous, "no API token presented");
        }

        var hash = Identifiers.Hash(presented);
        var bootstrap = options.Value.ApiToken;
        if (!string.IsNullOrEmpty(bootstrap) && CryptographicOperations.FixedTimeEquals(hash, Identifiers.Hash(bootstrap)))
        {
            return (Caller.Bootstrap, null);
        }

        var token = await tokens.FindByHashAsync(hash, ct);
        if (token is null)
        {
            return (Caller.Anonymous, "unknown API token");
        }

        var caller = Caller.ForToken(token.Id, token.Name, token.Role);
        var now = time.GetUtcNow();
        if (token.RevokedAt is not null)
        {
            return (caller, "API token revoked");
        }

        if (!token.IsActive(now))
        {
            return (caller, "API token expired");
        }

        if (!lastTouched.TryGetValue(token.Id, out var touched) || now - touched >= UseResolution)
        {
            lastTouched[token.Id] = now;
            await tokens.TouchAsync(token.Id, now, UseResolution, ct);
        }

        return (caller, null);
    }

    private Task RecordAsync(AdmittedCall call, string result) =>
        // Not the call's token: a caller hanging up must not skip its audit row.
        audit.AppendAsync(
            new AuditRecord(time.GetUtcNow(), call.Caller.Actor, call.Caller.Role.ToText(), call.Method, call.Target, result, call.Address, call.Detail),
            CancellationToken.None);

    private static string Outcome(Exception e) => e switch
    {
        RpcException { StatusCode: StatusCode.InvalidArgument or StatusCode.OutOfRange } r => $"invalid: {r.Status.Detail}",
        RpcException { StatusCode: StatusCode.NotFound } r => $"not found: {r.Status.Detail}",
        RpcException { StatusCode: StatusCode.PermissionDenied or StatusCode.Unauthenticated } r => $"denied: {r.Status.Detail}",
        RpcException r => $"error: {r.StatusCode}: {r.Status.Detail}",
        OperationCanceledException => "error: Cancelled",
        _ => $"error: Internal ({e.GetType().Name})",
    };

    /// <summary>What the call acts on (the first set of id, host_name, name, series) and the request as JSON without secret-bearing fields.</summary>
    private static (string Target, string Detail) Describe(IMessage? request)
    {
        if (request is null)
        {
            return ("", "{}");
        }

        var fields = request.Descriptor.Fields;
        var target = TargetFields
            .Select(name => fields.InDeclarationOrder().FirstOrDefault(f => f.Name == name))
            .Where(f => f is { FieldType: FieldType.String, IsRepeated: false, IsMap: false })
            .Select(f => f!.Accessor.GetValue(request) as string)
            .FirstOrDefault(v => !string.IsNullOrEmpty(v)) ?? "";

        var copy = request.Descriptor.Parser.ParseFrom(request.ToByteString());
        foreach (var field in copy.Descriptor.Fields.InDeclarationOrder())
        {
            if (SecretWords.Any(word => field.Name.Contains(word, StringComparison.Ordinal)))
            {
                field.Accessor.Clear(copy);
            }
        }

        var detail = JsonFormatter.Default.Format(copy);
        return (target, detail.Length <= MaxDetailLength
            ? detail
            : string.Create(System.Globalization.CultureInfo.InvariantCulture, $$"""{"truncated": true, "length": {{detail.Length}}}"""));
    }

    private static string Bearer(ServerCallContext context)
    {
        var header = context.RequestHeaders.GetValue("authorization") ?? "";
        const string Scheme = "Bearer ";
        return header.StartsWith(Scheme, StringComparison.Ordinal) ? header[Scheme.Length..].Trim() : "";
    }

    private static string Address(ServerCallContext context) =>
        context.GetHttpContext().Connection.RemoteIpAddress?.MapToIPv4().ToString() ?? context.Peer ?? "";

    private sealed record AdmittedCall(string Method, Caller Caller, string Target, string Detail, string Address, bool Audited);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} from {Actor} at {Address} refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string method, string actor, string address, string reason);
}
