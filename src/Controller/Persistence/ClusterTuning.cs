using Orleans.Configuration;

namespace OdooFleet.Controller.Persistence;

/// <summary>Membership timing presets; production keeps the Orleans defaults.</summary>
internal static class ClusterTuning
{
    /// <summary>
    /// Declares a silo that stopped answering dead within a few seconds instead of about a minute.
    /// For tests and single-box setups only: on a real network such short probe timeouts turn a
    /// GC pause or a busy host into a false death declaration.
    /// </summary>
    public static void FastFailureDetection(ClusterMembershipOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.ProbeTimeout = TimeSpan.FromSeconds(1);
        options.NumMissedProbesLimit = 2;
        options.NumVotesForDeathDeclaration = 1;
        options.TableRefreshTimeout = TimeSpan.FromSeconds(1);
        options.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(2);
        options.DeathVoteExpirationTimeout = TimeSpan.FromSeconds(10);
    }
}
