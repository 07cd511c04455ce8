using System.Text;
using OdooFleet.Agent.IO;

namespace OdooFleet.Agent.Profiles;

/// <summary>
/// The agent's own Odoo master password when the controller sends none: a random secret is made
/// once, only its pbkdf2-sha512 hash is kept (state directory, 0600) and written to odoo.conf, and
/// the clear value is dropped at once. The database manager is blocked by default, so nobody needs
/// it; a controller that wants an operator-known password sends its hash in the spec instead.
/// </summary>
internal static class AdminHashStore
{
    public const string FileName = "odoo-admin-passwd.hash";

    /// <summary>The kept hash; a new one when there is none (persisted only if <paramref name="persist"/>: check mode writes nothing).</summary>
    public static string LoadOrCreate(string stateDirectory, bool persist)
    {
        var path = Path.Combine(stateDirectory, FileName);
        if (File.Exists(path))
        {
            var kept = File.ReadAllText(path).Trim();
            if (AdminPassword.CheckHash("state." + FileName, kept) is null)
            {
                return kept;
            }
        }

        var hash = AdminPassword.Generate().Hash;
        if (persist)
        {
            Directory.CreateDirectory(stateDirectory);
            AtomicFile.WriteAsync(path, Encoding.UTF8.GetBytes(hash + "\n"), UnixFileMode.UserRead | UnixFileMode.UserWrite, CancellationToken.None)
                .GetAwaiter().GetResult();
        }

        return hash;
    }
}
