using System.Collections.Concurrent;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Tests.EndToEnd;

/// <summary>What WatchRollout does once it has written its updates.</summary>
internal enum StreamEnd
{
    Complete,
    BreakUnavailable,
    Hang,
}

/// <summary>FleetService with canned answers, recording what the CLI asked.</summary>
internal sealed class FakeFleetService : FleetService.FleetServiceBase
{
    public List<Host> Hosts { get; } = [];

    public Rollout? Rollout { get; set; }

    public List<Rollout> WatchUpdates { get; } = [];

    public StreamEnd WatchEnd { get; set; } = StreamEnd.Complete;

    /// <summary>When set, every call must carry "authorization: Bearer {RequiredToken}".</summary>
    public string? RequiredToken { get; set; }

    public ConcurrentQueue<string> Calls { get; } = new();

    public ConcurrentQueue<string?> Authorizations { get; } = new();

    /// <summary>Completed once WatchRollout has written all its updates.</summary>
    public TaskCompletionSource UpdatesWritten { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override Task<EnrollmentToken> CreateEnrollmentToken(CreateEnrollmentTokenRequest request, ServerCallContext context)
    {
        Record(context, $"CreateEnrollmentToken ttl={request.TtlSeconds}");
        return Task.FromResult(new EnrollmentToken
        {
            Token = "oft_canned-token",
            ExpiresAt = Timestamp.FromDateTimeOffset(new DateTimeOffset(2025, 6, 1, 13, 0, 0, TimeSpan.Zero)),
        });
    }

    public override Task<ListHostsResponse> ListHosts(ListHostsRequest request, ServerCallContext context)
    {
        Record(context, "ListHosts");
        var response = new ListHostsResponse();
        response.Hosts.AddRange(Hosts);
        return Task.FromResult(response);
    }

    public override Task<Host> GetHost(GetHostRequest request, ServerCallContext context)
    {
        Record(context, $"GetHost {request.Id}");
        return Task.FromResult(Hosts.FirstOrDefault(h => h.Id == request.Id || h.Name == request.Id)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"host '{request.Id}' not found; list hosts with `fleet hosts`")));
    }

    public override Task<Rollout> StartRollout(StartRolloutRequest request, ServerCallContext context)
    {
        Record(context, $"StartRollout {request.Series}");
        return request.Series == "18.0" && Rollout is not null
            ? Task.FromResult(Rollout)
            : throw new RpcException(new Status(StatusCode.InvalidArgument, $"version: no Odoo series '{request.Series}' in the source; available: 17.0, 18.0"));
    }

    public override Task<Rollout> GetRollout(GetRolloutRequest request, ServerCallContext context)
    {
        Record(context, $"GetRollout {request.Id}");
        return Task.FromResult(Rollout is not null && Rollout.Id == request.Id
            ? Rollout
            : throw new RpcException(new Status(StatusCode.NotFound, $"rollout '{request.Id}' not found")));
    }

    public override async Task WatchRollout(GetRolloutRequest request, IServerStreamWriter<Rollout> responseStream, ServerCallContext context)
    {
        Record(context, $"WatchRollout {request.Id}");
        foreach (var update in WatchUpdates)
        {
            await responseStream.WriteAsync(update, context.CancellationToken);
        }

        UpdatesWritten.TrySetResult();
        switch (WatchEnd)
        {
            case StreamEnd.BreakUnavailable:
                throw new RpcException(new Status(StatusCode.Unavailable, "controller shutting down"));
            case StreamEnd.Hang:
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
                break;
        }
    }

    private void Record(ServerCallContext context, string call)
    {
        var authorization = context.RequestHeaders.GetValue("authorization");
        Calls.Enqueue(call);
        Authorizations.Enqueue(authorization);
        if (RequiredToken is not null && authorization != $"Bearer {RequiredToken}")
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "API token missing or wrong; set \"apiToken\" in the fleet config file (see fleet --help)"));
        }
    }
}
