using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OdooFleet.Controller.Persistence;
using Orleans.Configuration;
using Orleans.Storage;
using Xunit;

namespace OdooFleet.Controller.Tests.Persistence;

internal enum SampleKind
{
    None,
    Canary,
    Batch,
}

[GenerateSerializer]
internal sealed record SampleStep([property: Id(0)] string Host, [property: Id(1)] SampleKind Kind);

[GenerateSerializer]
internal sealed record SampleState
{
    [Id(0)] public string Name { get; init; } = "";
    [Id(1)] public List<SampleStep> Steps { get; init; } = [];
    [Id(2)] public Dictionary<string, int> Attempts { get; init; } = [];
    [Id(3)] public DateTimeOffset StartedAt { get; init; }
    [Id(4)] public SampleKind Kind { get; init; }
    [Id(5)] public DateTimeOffset? FinishedAt { get; init; }
    [Id(6)] public Dictionary<SampleKind, long> Counts { get; init; } = [];
}

public sealed class NpgsqlGrainStorageTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly DateTimeOffset T0 = new(2025, 3, 1, 12, 0, 0, 123, TimeSpan.FromHours(2));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task WriteStateAsync_GeneratedSerializerRecord_ReadsBackEqual()
    {
        var storage = NewStorage();
        var grain = NewGrain();
        var written = new GrainState<SampleState>(Sample());

        await storage.WriteStateAsync("sample", grain, written, Ct);
        var read = new GrainState<SampleState>(new SampleState());
        await storage.ReadStateAsync("sample", grain, read, Ct);

        Assert.True(read.RecordExists);
        Assert.Equal(written.ETag, read.ETag);
        Assert.Equal(written.State!.Name, read.State!.Name);
        Assert.Equal(written.State!.Steps, read.State!.Steps);
        Assert.Equal(written.State!.Attempts, read.State!.Attempts);
        Assert.Equal(written.State!.Counts, read.State!.Counts);
        Assert.Equal(T0, read.State!.StartedAt);
        Assert.Equal(T0.Offset, read.State!.StartedAt.Offset);
        Assert.Equal(SampleKind.Batch, read.State!.Kind);
        Assert.Null(read.State!.FinishedAt);
    }

    [Fact]
    public async Task ReadStateAsync_NothingStored_NoRecordAndStateUntouched()
    {
        var storage = NewStorage();
        var initial = new SampleState { Name = "initial" };
        var state = new GrainState<SampleState>(initial);

        await storage.ReadStateAsync("sample", NewGrain(), state, Ct);

        Assert.False(state.RecordExists);
        Assert.Null(state.ETag);
        Assert.Same(initial, state.State);
    }

    [Fact]
    public async Task WriteStateAsync_StaleEtag_ThrowsInconsistentState()
    {
        var storage = NewStorage();
        var grain = NewGrain();
        var first = new GrainState<SampleState>(Sample());
        await storage.WriteStateAsync("sample", grain, first, Ct);
        var second = new GrainState<SampleState>(new SampleState());
        await storage.ReadStateAsync("sample", grain, second, Ct);
        second.State = second.State! with { Name = "second" };
        await storage.WriteStateAsync("sample", grain, second, Ct);

        var error = await Assert.ThrowsAsync<InconsistentStateException>(
            () => storage.WriteStateAsync("sample", grain, first, Ct));

        Assert.Equal(second.ETag, error.StoredEtag);
        var read = new GrainState<SampleState>(new SampleState());
        await storage.ReadStateAsync("sample", grain, read, Ct);
        Assert.Equal("second", read.State!.Name);
    }

    [Fact]
    public async Task WriteStateAsync_NoEtagButRowExists_ThrowsInconsistentState()
    {
        var storage = NewStorage();
        var grain = NewGrain();
        await storage.WriteStateAsync("sample", grain, new GrainState<SampleState>(Sample()), Ct);

        await Assert.ThrowsAsync<InconsistentStateException>(
            () => storage.WriteStateAsync("sample", grain, new GrainState<SampleState>(Sample()), Ct));
    }

    [Fact]
    public async Task WriteStateAsync_OtherStateNameOrService_IsIndependent()
    {
        var storage = NewStorage();
        var otherService = NewStorage();
        var grain = NewGrain();

        await storage.WriteStateAsync("a", grain, new GrainState<SampleState>(Sample() with { Name = "a" }), Ct);
        await storage.WriteStateAsync("b", grain, new GrainState<SampleState>(Sample() with { Name = "b" }), Ct);
        await otherService.WriteStateAsync("a", grain, new GrainState<SampleState>(Sample() with { Name = "other" }), Ct);

        var read = new GrainState<SampleState>(new SampleState());
        await storage.ReadStateAsync("a", grain, read, Ct);
        Assert.Equal("a", read.State!.Name);
    }

    [Fact]
    public async Task ClearStateAsync_CurrentEtag_DeletesRowAndResetsEtag()
    {
        var storage = NewStorage();
        var grain = NewGrain();
        var state = new GrainState<SampleState>(Sample());
        await storage.WriteStateAsync("sample", grain, state, Ct);

        await storage.ClearStateAsync("sample", grain, state, Ct);

        Assert.Null(state.ETag);
        Assert.False(state.RecordExists);
        var read = new GrainState<SampleState>(new SampleState());
        await storage.ReadStateAsync("sample", grain, read, Ct);
        Assert.False(read.RecordExists);
        // Written again from scratch after a clear.
        await storage.WriteStateAsync("sample", grain, state, Ct);
        Assert.True(state.RecordExists);
    }

    [Fact]
    public async Task ClearStateAsync_StaleEtag_ThrowsAndKeepsRow()
    {
        var storage = NewStorage();
        var grain = NewGrain();
        var stale = new GrainState<SampleState>(Sample());
        await storage.WriteStateAsync("sample", grain, stale, Ct);
        var current = new GrainState<SampleState>(new SampleState()) { ETag = stale.ETag };
        await storage.WriteStateAsync("sample", grain, current, Ct);

        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.ClearStateAsync("sample", grain, stale, Ct));

        var read = new GrainState<SampleState>(new SampleState());
        await storage.ReadStateAsync("sample", grain, read, Ct);
        Assert.True(read.RecordExists);
    }

    private static SampleState Sample() => new()
    {
        Name = "rollout",
        Steps = [new SampleStep("odoo-1", SampleKind.Canary), new SampleStep("odoo-2", SampleKind.Batch)],
        Attempts = new() { ["odoo-1"] = 1, ["odoo-2"] = 3 },
        StartedAt = T0,
        Kind = SampleKind.Batch,
        Counts = new() { [SampleKind.Canary] = 1, [SampleKind.Batch] = 10 },
    };

    private static GrainId NewGrain() => GrainId.Create("sample", Guid.NewGuid().ToString("N"));

    private NpgsqlGrainStorage NewStorage() => new(
        "fleet",
        fixture.Database.DataSource,
        Options.Create(new ClusterOptions { ClusterId = "c", ServiceId = "svc-" + Guid.NewGuid().ToString("N") }),
        NullLogger<NpgsqlGrainStorage>.Instance);
}
