using System.Reflection;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Grains;
using OdooFleet.Controller.Persistence;

namespace OdooFleet.Controller.Tests.Api;

/// <summary>
/// An IGrainFactory for API tests without a silo whose host grains change profiles exactly as
/// HostGrain.Configure does (HostStore.UpdateProfileAsync with ProfileRules.Apply); what the real
/// grain does next, telling the agent over RabbitMQ, is left out. Any other grain call fails the test.
/// </summary>
public class ProfileGrains : DispatchProxy
{
    internal HostStore? Hosts { get; private set; }

    internal ProfileDefaults Defaults { get; private set; } = new(null, "info", 5, 600, 3600);

    internal TimeProvider Time { get; private set; } = TimeProvider.System;

    /// <summary>The causes Configure was called with, in order.</summary>
    internal List<string> Causes { get; } = [];

    internal static IGrainFactory Create(HostStore hosts, TimeProvider time)
    {
        var factory = Create<IGrainFactory, ProfileGrains>();
        var self = (ProfileGrains)(object)factory;
        self.Hosts = hosts;
        self.Time = time;
        return factory;
    }

    internal static ProfileGrains Of(IGrainFactory factory) => (ProfileGrains)(object)factory;

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        if (targetMethod is { Name: nameof(IGrainFactory.GetGrain), IsGenericMethod: true }
            && targetMethod.GetGenericArguments()[0] == typeof(IHostGrain)
            && args?[0] is string hostId)
        {
            return ProfileHostGrain.Create(this, hostId);
        }

        throw new InvalidOperationException($"these tests reach only host grains' Configure, but {targetMethod?.Name} was called");
    }

    /// <summary>A proxy, not a class implementing IHostGrain, so methods the grain gains later need no change here.</summary>
    public class ProfileHostGrain : DispatchProxy
    {
        private ProfileGrains? grains;
        private string hostId = "";

        internal static IHostGrain Create(ProfileGrains grains, string hostId)
        {
            var grain = Create<IHostGrain, ProfileHostGrain>();
            var self = (ProfileHostGrain)(object)grain;
            self.grains = grains;
            self.hostId = hostId;
            return grain;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            if (targetMethod?.Name != nameof(IHostGrain.Configure) || args is not [ProfileChange change, string cause])
            {
                throw new InvalidOperationException($"these tests reach only host grains' Configure, but {targetMethod?.Name} was called");
            }

            grains!.Causes.Add(cause);
            return grains.Hosts!.UpdateProfileAsync(
                hostId, current => ProfileRules.Apply(current, change, grains.Defaults), cause, grains.Time.GetUtcNow(), CancellationToken.None);
        }
    }
}
