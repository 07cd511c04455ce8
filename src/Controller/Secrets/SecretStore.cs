using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace OdooFleet.Controller.Secrets;

/// <summary>
/// Secrets (database passwords, Odoo master passwords, backup keys, broker credentials, the fleet
/// CA's and the command signing keys) encrypted with AES-256-GCM in PostgreSQL. The name is bound
/// into each seal as associated data, so a ciphertext copied to another row does not open. Values
/// never appear in logs, errors or events: callers get bytes, messages name only the secret.
/// </summary>
internal sealed partial class SecretStore(NpgsqlDataSource db, SecretKeyRing keys, TimeProvider time, ILogger<SecretStore> logger)
{
    private const int NonceLength = 12;
    private const int TagLength = 16;

    public async Task SetAsync(string name, ReadOnlyMemory<byte> value, CancellationToken ct)
    {
        CheckName(name);
        var (nonce, ciphertext, tag) = Seal(keys.Current, name, value.Span);
        await using var cmd = db.CreateCommand("""
            INSERT INTO secrets (name, key_id, nonce, ciphertext, tag, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (name) DO UPDATE SET key_id = EXCLUDED.key_id, nonce = EXCLUDED.nonce,
                ciphertext = EXCLUDED.ciphertext, tag = EXCLUDED.tag, updated_at = EXCLUDED.updated_at
            """);
        cmd.Parameters.AddWithValue(name);
        cmd.Parameters.AddWithValue(keys.Current.Id);
        cmd.Parameters.AddWithValue(nonce);
        cmd.Parameters.AddWithValue(ciphertext);
        cmd.Parameters.AddWithValue(tag);
        cmd.Parameters.AddWithValue(time.GetUtcNow());
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Stores <paramref name="value"/> only if <paramref name="name"/> has none yet; returns the value that is stored now.</summary>
    public async Task<byte[]> GetOrAddAsync(string name, Func<byte[]> value, CancellationToken ct)
    {
        if (await GetAsync(name, ct) is { } existing)
        {
            return existing;
        }

        CheckName(name);
        var fresh = value();
        var (nonce, ciphertext, tag) = Seal(keys.Current, name, fresh);
        await using var cmd = db.CreateCommand("""
            INSERT INTO secrets (name, key_id, nonce, ciphertext, tag, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (name) DO NOTHING
            """);
        cmd.Parameters.AddWithValue(name);
        cmd.Parameters.AddWithValue(keys.Current.Id);
        cmd.Parameters.AddWithValue(nonce);
        cmd.Parameters.AddWithValue(ciphertext);
        cmd.Parameters.AddWithValue(tag);
        cmd.Parameters.AddWithValue(time.GetUtcNow());
        // Two controllers starting together: one insert wins and both use the stored value.
        return await cmd.ExecuteNonQueryAsync(ct) == 1 ? fresh : (await GetAsync(name, ct))!;
    }

    public async Task<byte[]?> GetAsync(string name, CancellationToken ct)
    {
        CheckName(name);
        await using var cmd = db.CreateCommand("SELECT key_id, nonce, ciphertext, tag FROM secrets WHERE name = $1");
        cmd.Parameters.AddWithValue(name);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return null;
        }

        return Open(name, reader.GetString(0), reader.GetFieldValue<byte[]>(1), reader.GetFieldValue<byte[]>(2), reader.GetFieldValue<byte[]>(3));
    }

    public async Task<bool> DeleteAsync(string name, CancellationToken ct)
    {
        CheckName(name);
        await using var cmd = db.CreateCommand("DELETE FROM secrets WHERE name = $1");
        cmd.Parameters.AddWithValue(name);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>Re-seals every row sealed by a previous key with the current one; returns how many. Safe to run on several controllers at once.</summary>
    public async Task<int> RotateAsync(CancellationToken ct)
    {
        var stale = new List<(string Name, string KeyId)>();
        await using (var cmd = db.CreateCommand("SELECT name, key_id FROM secrets WHERE key_id <> $1"))
        {
            cmd.Parameters.AddWithValue(keys.Current.Id);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                stale.Add((reader.GetString(0), reader.GetString(1)));
            }
        }

        var resealed = 0;
        foreach (var (name, keyId) in stale)
        {
            if (!keys.All.ContainsKey(keyId))
            {
                LogUnknownKey(logger, name, keyId);
                continue;
            }

            byte[]? value;
            try
            {
                value = await GetAsync(name, ct);
            }
            catch (SecretKeyException)
            {
                // One altered row must not stop the others (or the controller's start): it stays as it is.
                LogUnreadable(logger, name, keyId);
                continue;
            }

            if (value is null)
            {
                continue;
            }

            var (nonce, ciphertext, tag) = Seal(keys.Current, name, value);
            await using var update = db.CreateCommand(
                "UPDATE secrets SET key_id = $2, nonce = $3, ciphertext = $4, tag = $5, updated_at = $6 WHERE name = $1 AND key_id = $7");
            update.Parameters.AddWithValue(name);
            update.Parameters.AddWithValue(keys.Current.Id);
            update.Parameters.AddWithValue(nonce);
            update.Parameters.AddWithValue(ciphertext);
            update.Parameters.AddWithValue(tag);
            update.Parameters.AddWithValue(time.GetUtcNow());
            update.Parameters.AddWithValue(keyId);
            resealed += await update.ExecuteNonQueryAsync(ct);
        }

        if (resealed > 0)
        {
            LogRotated(logger, resealed, keys.Current.Id);
        }

        return resealed;
    }

    private static (byte[] Nonce, byte[] Ciphertext, byte[] Tag) Seal(SecretKey key, string name, ReadOnlySpan<byte> value)
    {
        var nonce = RandomNumberGenerator.GetBytes(NonceLength);
        var ciphertext = new byte[value.Length];
        var tag = new byte[TagLength];
        using var aes = new AesGcm(key.Bytes, TagLength);
        aes.Encrypt(nonce, value, ciphertext, tag, Encoding.UTF8.GetBytes(name));
        return (nonce, ciphertext, tag);
    }

    private byte[] Open(string name, string keyId, byte[] nonce, byte[] ciphertext, byte[] tag)
    {
        if (!keys.All.TryGetValue(keyId, out var key))
        {
            throw new SecretKeyException(
                $"secret '{name}' is sealed with key {keyId}, which this controller does not have; add that key's file to Secrets:PreviousKeyFiles");
        }

        var value = new byte[ciphertext.Length];
        try
        {
            using var aes = new AesGcm(key.Bytes, TagLength);
            aes.Decrypt(nonce, ciphertext, tag, value, Encoding.UTF8.GetBytes(name));
        }
        catch (AuthenticationTagMismatchException)
        {
            throw new SecretKeyException($"secret '{name}' does not open with key {keyId}: it was altered or copied from another name");
        }

        return value;
    }

    private static void CheckName(string name)
    {
        if (name.Length is 0 or > 200 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/' or ':'))
        {
            throw new ArgumentException("secret names are 1-200 characters of letters, digits, - _ . / :", nameof(name));
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Secret store: {Count} secret(s) re-sealed with the current key {KeyId}")]
    private static partial void LogRotated(ILogger logger, int count, string keyId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Secret store: '{Name}' (key {KeyId}) does not open: it was altered; it is left as it is and cannot be used")]
    private static partial void LogUnreadable(ILogger logger, string name, string keyId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Secret store: '{Name}' is sealed with key {KeyId}, which is not configured; it cannot be read or re-sealed")]
    private static partial void LogUnknownKey(ILogger logger, string name, string keyId);
}
