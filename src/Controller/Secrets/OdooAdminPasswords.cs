using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using OdooFleet.Controller.Security;

namespace OdooFleet.Controller.Secrets;

/// <summary>A host's Odoo master password: the clear value (secret store only) and the hash the agent writes to odoo.conf.</summary>
internal sealed record OdooAdminPassword(string Secret, string Hash)
{
    /// <summary>Never print the clear value by accident (logs, exceptions, test output).</summary>
    public override string ToString() => $"OdooAdminPassword {{ Hash = {Hash} }}";
}

/// <summary>
/// Odoo master passwords (admin_passwd, SEED-ERRATA #15), one per host, made by the controller and
/// kept in the encrypted secret store as "odoo/admin/&lt;host_id&gt;". The agent gets only the hash, in
/// the format Odoo 18 checks with passlib (CryptContext pbkdf2_sha512, 600,000 rounds):
/// "$pbkdf2-sha512$&lt;rounds&gt;$&lt;salt&gt;$&lt;checksum&gt;", PBKDF2-HMAC-SHA512 of the UTF-8 secret, a 16-byte
/// salt and a 64-byte checksum in passlib's ab64 (standard base64, '.' for '+', no padding).
/// The hash is stored with the secret: it is made once, so every spec carries the same odoo.conf
/// line, and the expensive derivation does not run on each spec request.
/// </summary>
internal sealed class OdooAdminPasswords(SecretStore secrets, IOptions<SecurityOptions>? options = null)
{
    private readonly int rounds = options?.Value.OdooAdminHashRounds ?? new SecurityOptions().OdooAdminHashRounds;

    private const int SecretBytes = 24;
    private const int SaltBytes = 16;
    private const int ChecksumBytes = 64;

    public static string SecretName(string hostId) => "odoo/admin/" + hostId;

    /// <summary>The hash for HostSpec.odoo.admin_passwd_hash; the password is made on first need.</summary>
    public async Task<string> HashAsync(string hostId, CancellationToken ct) => (await GetOrCreateAsync(hostId, ct)).Hash;

    /// <summary>The host's password; the first caller makes it and every controller then reads the stored one.</summary>
    public async Task<OdooAdminPassword> GetOrCreateAsync(string hostId, CancellationToken ct)
    {
        var name = SecretName(hostId);
        return Decode(name, await secrets.GetOrAddAsync(name, () => Encode(Create(rounds)), ct));
    }

    /// <summary>Deletes the host's password; true if it existed.</summary>
    public Task<bool> DeleteAsync(string hostId, CancellationToken ct) => secrets.DeleteAsync(SecretName(hostId), ct);

    private static OdooAdminPassword Create(int rounds)
    {
        var secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(SecretBytes)).Replace('+', '-').Replace('/', '_');
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var checksum = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(secret), salt, rounds, HashAlgorithmName.SHA512, ChecksumBytes);
        return new OdooAdminPassword(secret, string.Create(CultureInfo.InvariantCulture, $"$pbkdf2-sha512${rounds}${Ab64(salt)}${Ab64(checksum)}"));
    }

    private static string Ab64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '.');

    // Neither part contains a line break: the secret is base64url, the hash ab64 and '$'.
    private static byte[] Encode(OdooAdminPassword password) => Encoding.UTF8.GetBytes(password.Secret + "\n" + password.Hash);

    private static OdooAdminPassword Decode(string name, byte[] value)
    {
        var parts = Encoding.UTF8.GetString(value).Split('\n');
        if (parts.Length != 2 || parts[0].Length == 0 || !parts[1].StartsWith("$pbkdf2-sha512$", StringComparison.Ordinal))
        {
            // Names the secret only: the stored bytes may be a password.
            throw new InvalidOperationException(
                $"secret '{name}' is not an Odoo master password (clear value and pbkdf2-sha512 hash); delete that row from the secrets table so the next spec request makes a new one");
        }

        return new OdooAdminPassword(parts[0], parts[1]);
    }
}
