using Orleans.Placement;

namespace OdooFleet.Controller.Tests.Persistence;

[GenerateSerializer]
internal sealed class ClusterProbeState
{
    [Id(0)] public string Value { get; set; } = "";
    [Id(1)] public int Ticks { get; set; }
}

/// <summary>What a probe grain reports: its persisted state and the silo its activation runs on.</summary>
[GenerateSerializer, Immutable]
internal sealed record ProbeView([property: Id(0)] string Value, [property: Id(1)] int Ticks, [property: Id(2)] string Silo);

internal interface IClusterProbeGrain : IGrainWithStringKey
{
    Task<ProbeView> Set(string value);

    Task<ProbeView> Get();

    Task StartReminder(TimeSpan period);
}

/// <summary>Test grain for the cluster tests: persistent state in the "fleet" storage and a counting reminder.</summary>
[PreferLocalPlacement]
internal sealed class ClusterProbeGrain(
    [PersistentState("probe", "fleet")] IPersistentState<ClusterProbeState> state) : Grain, IClusterProbeGrain, IRemindable
{
    public async Task<ProbeView> Set(string value)
    {
        state.State.Value = value;
        await state.WriteStateAsync();
        return View();
    }

    public Task<ProbeView> Get() => Task.FromResult(View());

    public Task StartReminder(TimeSpan period) => this.RegisterOrUpdateReminder("tick", period, period);

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        state.State.Ticks++;
        await state.WriteStateAsync();
    }

    private ProbeView View() => new(state.State.Value, state.State.Ticks, RuntimeIdentity);
}
