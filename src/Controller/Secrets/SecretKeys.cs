using System.Security.Cryptography;

namespace OdooFleet.Controller.Secrets;

/// <summary>Settings of section "Secrets": where the store's keys come from.</summary>
internal sealed class SecretOptions
{
    public const string Section = "Secrets";

    /// <summary>File holding the current 32-byte key, base64 (mode 0600, owned by the controller's user).</summary>
    public string? KeyFile { get; set; }

    /// <summary>The current key itself, base64 (e.g. from the environment: Secrets__Key); KeyFile wins when both are set.</summary>
    public string? Key { get; set; }

    /// <summary>Keys of earlier generations, still accepted for reading; rows sealed with them are re-sealed with the current key at start.</summary>
    public List<string> PreviousKeyFiles { get; set; } = [];
}

/// <summary>One AES-256 key and its id (the first 8 bytes of its SHA-256, hex): rows name the key that sealed them.</summary>
internal sealed class SecretKey
{
    public const int Length = 32;

    public SecretKey(byte[] key)
    {
        if (key.Length != Length)
        {
            throw new SecretKeyException($"a secret store key must be {Length} bytes (base64 of 32 random bytes, e.g. `head -c32 /dev/urandom | base64`), got {key.Length}");
        }

        Bytes = key;
        Id = Convert.ToHexStringLower(SHA256.HashData(key).AsSpan(0, 8));
    }

    public string Id { get; }

    public byte[] Bytes { get; }

    public static SecretKey FromBase64(string text, string source)
    {
        try
        {
            return new SecretKey(Convert.FromBase64String(text.Trim()));
        }
        catch (FormatException)
        {
            throw new SecretKeyException($"{source}: is not base64; write 32 random bytes as base64, e.g. `head -c32 /dev/urandom | base64 > FILE`");
        }
        catch (SecretKeyException e)
        {
            throw new SecretKeyException($"{source}: {e.Message}");
        }
    }

    public static SecretKey FromFile(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new SecretKeyException($"Secrets:KeyFile '{path}' does not exist; create it with `head -c32 /dev/urandom | base64 > {path}; chmod 0600 {path}`");
        }

        if ((info.UnixFileMode & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
        {
            throw new SecretKeyException($"Secrets:KeyFile '{path}' is readable by group or others; `chmod 0600 {path}`");
        }

        return FromBase64(File.ReadAllText(path), $"Secrets:KeyFile '{path}'");
    }
}

/// <summary>The current key and the previous ones (read-only).</summary>
internal sealed class SecretKeyRing
{
    public SecretKeyRing(SecretKey current, IEnumerable<SecretKey> previous)
    {
        Current = current;
        All = new Dictionary<string, SecretKey>(StringComparer.Ordinal) { [current.Id] = current };
        foreach (var key in previous)
        {
            All.TryAdd(key.Id, key);
        }
    }

    public SecretKey Current { get; }

    public Dictionary<string, SecretKey> All { get; }

    public static SecretKeyRing Load(SecretOptions options)
    {
        var current = !string.IsNullOrWhiteSpace(options.KeyFile) ? SecretKey.FromFile(options.KeyFile)
            : !string.IsNullOrWhiteSpace(options.Key) ? SecretKey.FromBase64(options.Key, "Secrets:Key")
            : throw new SecretKeyException(
                "no secret store key: set Secrets:KeyFile (a file with 32 random bytes, base64, mode 0600) or Secrets:Key (environment Secrets__Key)");
        return new SecretKeyRing(current, options.PreviousKeyFiles.Select(SecretKey.FromFile));
    }
}

internal sealed class SecretKeyException(string message) : Exception(message);
