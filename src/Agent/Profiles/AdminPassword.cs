using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace OdooFleet.Agent.Profiles;

/// <summary>A generated Odoo master password: the clear secret (controller's secret store only) and its odoo.conf hash.</summary>
internal sealed record AdminSecret(string Secret, string Hash)
{
    /// <summary>Never print the secret by accident (logs, exceptions, test output).</summary>
    public override string ToString() => $"AdminSecret {{ Hash = {Hash} }}";
}

/// <summary>
/// Odoo's master password (admin_passwd, SEED-ERRATA #15). Odoo 18 checks it with passlib's
/// CryptContext(['pbkdf2_sha512', 'plaintext'], pbkdf2_sha512__rounds=600_000), so odoo.conf holds
/// "$pbkdf2-sha512$&lt;rounds&gt;$&lt;salt&gt;$&lt;checksum&gt;": PBKDF2-HMAC-SHA512 of the UTF-8 secret, 64-byte
/// checksum, salt and checksum in passlib's "ab64" (standard base64, '.' for '+', no '=' padding).
/// </summary>
internal static partial class AdminPassword
{
    /// <summary>Odoo 18's own rounds for new hashes.</summary>
    public const int Rounds = 600_000;

    /// <summary>
    /// The least rounds accepted from the controller: OWASP's 2023 figure for PBKDF2-HMAC-SHA512. Fewer make
    /// brute-forcing the hash (odoo.conf is readable by group odoo) cheap.
    /// </summary>
    public const int MinimumRounds = 210_000;

    private const int SecretBytes = 24;
    private const int SaltBytes = 16;
    private const int ChecksumBytes = 64;
    private const int MaximumSaltBytes = 1024;

    /// <summary>A random 24-byte secret (base64url, 32 characters) and its passlib pbkdf2-sha512 hash.</summary>
    public static AdminSecret Generate()
    {
        var secret = Base64Url(RandomNumberGenerator.GetBytes(SecretBytes));
        return new AdminSecret(secret, Hash(secret, RandomNumberGenerator.GetBytes(SaltBytes), Rounds));
    }

    public static string Hash(string secret, byte[] salt, int rounds)
    {
        var checksum = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(secret), salt, rounds, HashAlgorithmName.SHA512, ChecksumBytes);
        return string.Create(CultureInfo.InvariantCulture, $"$pbkdf2-sha512${rounds}${Ab64Encode(salt)}${Ab64Encode(checksum)}");
    }

    /// <summary>True when <paramref name="hash"/> is a valid pbkdf2-sha512 hash of <paramref name="secret"/> (constant-time compare).</summary>
    public static bool Verify(string secret, string hash)
    {
        if (!TryParse(hash, out var rounds, out var salt, out var checksum))
        {
            return false;
        }

        var computed = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(secret), salt, rounds, HashAlgorithmName.SHA512, checksum.Length);
        return CryptographicOperations.FixedTimeEquals(computed, checksum);
    }

    /// <summary>Null when <paramref name="hash"/> is a hash the profile may write to odoo.conf, else an error naming <paramref name="field"/>, the rule and the fix.</summary>
    public static string? CheckHash(string field, string hash)
    {
        const string Fix = "send the hash from the controller's secret store (never the clear password)";
        if (!HashPattern().IsMatch(hash))
        {
            // Never echo the value: if it is not a hash, it may be the clear password.
            return $"{field}: is not a passlib pbkdf2-sha512 hash ($pbkdf2-sha512$<rounds>$<ab64 salt>$<86 ab64 characters>, {hash.Length} characters given); {Fix}";
        }

        if (!TryParse(hash, out var rounds, out var salt, out _))
        {
            return $"{field}: the salt or checksum of the pbkdf2-sha512 hash is not valid ab64 or has the wrong length; {Fix}";
        }

        if (rounds < MinimumRounds)
        {
            return $"{field}: {rounds} pbkdf2 rounds are fewer than {MinimumRounds}; re-hash with {Rounds} rounds (Odoo 18's default)";
        }

        return salt.Length < SaltBytes
            ? $"{field}: a {salt.Length}-byte salt is shorter than {SaltBytes} bytes; re-hash with a {SaltBytes}-byte random salt"
            : null;
    }

    /// <summary>passlib's ab64: standard base64 with '.' instead of '+' and no '=' padding.</summary>
    public static string Ab64Encode(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '.');

    private static bool TryParse(string hash, out int rounds, out byte[] salt, out byte[] checksum)
    {
        (rounds, salt, checksum) = (0, [], []);
        var match = HashPattern().Match(hash);
        if (!match.Success
            || !int.TryParse(match.Groups["rounds"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out rounds) || rounds < 1
            || Ab64Decode(match.Groups["salt"].Value) is not { Length: <= MaximumSaltBytes } parsedSalt
            || Ab64Decode(match.Groups["checksum"].Value) is not { Length: ChecksumBytes } parsedChecksum)
        {
            return false;
        }

        (salt, checksum) = (parsedSalt, parsedChecksum);
        return true;
    }

    private static byte[]? Ab64Decode(string text)
    {
        if (text.Length % 4 == 1)
        {
            return null;
        }

        var padded = text.Replace('.', '+') + new string('=', (4 - (text.Length % 4)) % 4);
        try
        {
            return Convert.FromBase64String(padded);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    [GeneratedRegex(@"^\$pbkdf2-sha512\$(?<rounds>[1-9][0-9]{0,9})\$(?<salt>[A-Za-z0-9./]{1,1366})\$(?<checksum>[A-Za-z0-9./]{86})\z")]
    private static partial Regex HashPattern();
}
