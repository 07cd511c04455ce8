using OdooFleet.Contracts.V1;
using Xunit;

namespace OdooFleet.FleetSim.Tests;

public sealed class ReportsTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);
    private static readonly OdooRelease Old = new() { Series = "17.0", Commit = new string('1', 40) };
    private static readonly OdooRelease New = new() { Series = "18.0", Commit = new string('2', 40) };

    [Fact]
    public void Converged_NewReleaseInSpec_ReportsUpdatedTransitionWithOneRestart()
    {
        var spec = Spec(5, New);
        spec.Odoo.Gate = new ReleaseGate { RolloutId = "r-0123456789" };

        var report = Reports.Converged(spec, Old, Now, Now.AddMilliseconds(3));

        Assert.True(report.Success);
        Assert.Equal(5, report.Generation);
        Assert.Equal(New, report.RunningRelease);
        Assert.Equal(TransitionOutcome.Updated, report.Transition.Outcome);
        Assert.Equal(Old, report.Transition.From);
        Assert.Equal(New, report.Transition.To);
        Assert.Equal(1, report.Transition.Restarts);
        Assert.Equal("r-0123456789", report.Transition.RolloutId);
    }

    [Fact]
    public void Converged_FirstInstall_TransitionHasNoFromRelease()
    {
        var report = Reports.Converged(Spec(2, New), null, Now, Now);

        Assert.Null(report.Transition.From);
        Assert.Equal(New, report.Transition.To);
    }

    [Fact]
    public void Converged_SameReleaseAsRunning_ReportsNoTransition()
    {
        var report = Reports.Converged(Spec(6, New), New, Now, Now);

        Assert.Null(report.Transition);
        Assert.Equal(New, report.RunningRelease);
    }

    [Fact]
    public void Converged_SpecWithoutRelease_KeepsWhatRunsAndNoTransition()
    {
        var report = Reports.Converged(Spec(1, null), Old, Now, Now);

        Assert.Null(report.Transition);
        Assert.Equal(Old, report.RunningRelease);
    }

    [Fact]
    public void Staged_StageCommand_EchoesCommandIdAndRelease()
    {
        var command = new HostCommand { CommandId = "c-0123456789", Stage = new StageReleaseCommand { Release = New } };

        var report = Reports.Staged("h-abcdefghij", command, TimeSpan.FromMilliseconds(2));

        Assert.True(report.Success);
        Assert.Equal("c-0123456789", report.CommandId);
        Assert.Equal(New, report.Release);
        Assert.Equal("h-abcdefghij", report.HostId);
    }

    private static HostSpec Spec(long generation, OdooRelease? release) => new()
    {
        HostId = "h-abcdefghij",
        Generation = generation,
        Odoo = new OdooSpec { Release = release },
    };
}
