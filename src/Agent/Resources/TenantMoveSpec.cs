using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.IO;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Release;

namespace OdooFleet.Agent.Resources;

/// <summary>A tenant's database and filestore on this host, and the move it takes part in.</summary>
internal sealed record TenantMoveSpec(string Name, string Database, string FilestorePath, string MoveId, string WorkRoot)
{
    public const string DefaultWorkRoot = "/var/lib/odoofleet/tenant-move";

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Grammar.IsDatabaseName(Name) || Database != Name || Name.Contains('_', StringComparison.Ordinal))
        {
            errors.Add($"tenants.{Grammar.Printable(Name)}: name and database must be the same tenant name (lowercase letters, digits and inner hyphens); fix the tenant");
        }

        if (!Grammar.IsDatabaseName(MoveId) || !MoveId.StartsWith("m-", StringComparison.Ordinal))
        {
            errors.Add($"tenants.{Grammar.Printable(Name)}: move id '{Grammar.Printable(MoveId)}' must look like m-3kq9t2mzpa; fix the controller");
        }

        foreach (var path in (string[])[FilestorePath, WorkRoot])
        {
            if (!Grammar.IsSafeAbsolutePath(path) || path.EndsWith('/'))
            {
                errors.Add($"tenants.{Grammar.Printable(Name)}: '{Grammar.Printable(path)}' must be an absolute path of letters, digits and ._+@:/- without '..', '//' or a trailing '/'");
            }
        }

        return errors;
    }
}
