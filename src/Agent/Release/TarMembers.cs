namespace OdooFleet.Agent.Release;

/// <summary>
/// The member names of a release tarball (as `tar -tzf` lists them) must stay inside the directory
/// they are unpacked into: no absolute names, no ".." segment. Checked on the listing, before
/// anything is written; GNU tar defers symlinks that point outside, so a link cannot be written through.
/// </summary>
internal static class TarMembers
{
    /// <summary>The first offending member and why, or null when every member is safe.</summary>
    public static string? FindUnsafe(IEnumerable<string> members)
    {
        foreach (var member in members)
        {
            if (member.Length == 0)
            {
                continue;
            }

            if (member.StartsWith('/'))
            {
                return $"member '{Engine.Grammar.Printable(member)}' has an absolute path";
            }

            if (member.Split('/').Any(segment => segment == ".."))
            {
                return $"member '{Engine.Grammar.Printable(member)}' has a '..' segment";
            }
        }

        return null;
    }
}
