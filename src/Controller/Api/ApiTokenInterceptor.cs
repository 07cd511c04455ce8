using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Options;
using OdooFleet.Controller.Hosting;

namespace OdooFleet.Controller.Api;

/// <summary>When Fleet:ApiToken is configured, FleetService calls need "authorization: Bearer &lt;token&gt;".</summary>
internal sealed class ApiTokenInterceptor(IOptions<FleetOptions> options) : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, responseStream, context);
    }

    private void Check(ServerCallContext context)
    {
        var expected = options.Value.ApiToken;
        if (string.IsNullOrEmpty(expected))
        {
            return;
        }

        var header = context.RequestHeaders.GetValue("authorization") ?? "";
        const string scheme = "Bearer ";
        var presented = header.StartsWith(scheme, StringComparison.Ordinal) ? header[scheme.Length..] : "";
        if (!CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(expected))))
        {
            throw new RpcException(new Status(
                StatusCode.Unauthenticated, "API token missing or wrong; set \"apiToken\" in the fleet config file (see fleet --help)"));
        }
    }
}
