using System.Collections.Frozen;
using OdooFleet.Controller.Domain;

namespace OdooFleet.Controller.Api;

/// <summary>
/// The one table of who may call what on FleetService. Every method is listed (a test holds the
/// table against the service descriptor), and one missing from it is refused to everyone.
/// </summary>
internal static class AccessPolicy
{
    public static readonly FrozenDictionary<string, AccessRole> MinimumRole = new Dictionary<string, AccessRole>(StringComparer.Ordinal)
    {
        ["WhoAmI"] = AccessRole.Viewer,
        ["ListHosts"] = AccessRole.Viewer,
        ["GetHost"] = AccessRole.Viewer,
        ["GetRollout"] = AccessRole.Viewer,
        ["WatchRollout"] = AccessRole.Viewer,
        ["ListDrift"] = AccessRole.Viewer,
        ["GetDrift"] = AccessRole.Viewer,
        ["ListRollouts"] = AccessRole.Viewer,
        ["ListEvents"] = AccessRole.Viewer,
        ["ListTenants"] = AccessRole.Viewer,
        ["GetTenant"] = AccessRole.Viewer,
        ["CreateTenant"] = AccessRole.Operator,
        ["SuspendTenant"] = AccessRole.Operator,
        ["ResumeTenant"] = AccessRole.Operator,
        ["DeleteTenant"] = AccessRole.Operator,
        ["CloneTenant"] = AccessRole.Operator,
        ["MoveTenant"] = AccessRole.Operator,
        ["StartRollout"] = AccessRole.Operator,
        ["PauseRollout"] = AccessRole.Operator,
        ["ResumeRollout"] = AccessRole.Operator,
        ["AbortRollout"] = AccessRole.Operator,
        ["RollbackRollout"] = AccessRole.Operator,
        ["AcceptDrift"] = AccessRole.Admin,
        ["PlanHost"] = AccessRole.Operator,
        ["CreateEnrollmentToken"] = AccessRole.Admin,
        ["ListEnrollmentTokens"] = AccessRole.Admin,
        ["RevokeEnrollmentToken"] = AccessRole.Admin,
        ["CreateApiToken"] = AccessRole.Admin,
        ["ListApiTokens"] = AccessRole.Admin,
        ["RevokeApiToken"] = AccessRole.Admin,
        ["RemoveHost"] = AccessRole.Admin,
        ["ConfigureHost"] = AccessRole.Admin,
        ["ListAudit"] = AccessRole.Admin,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>"/fleet.v1.FleetService/StartRollout" -> "StartRollout".</summary>
    public static string MethodName(string fullMethod) => fullMethod[(fullMethod.LastIndexOf('/') + 1)..];

    /// <summary>Everything but reads changes something (PlanHost asks an agent to work): such calls are audited even when allowed.</summary>
    public static bool IsMutating(string method) =>
        !(method.StartsWith("List", StringComparison.Ordinal) || method.StartsWith("Get", StringComparison.Ordinal)
          || method.StartsWith("Watch", StringComparison.Ordinal) || method == "WhoAmI");
}
