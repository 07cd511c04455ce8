using System.Security.Cryptography;

namespace OdooFleet.Controller.Domain;

/// <summary>Short, URL- and shell-safe identifiers and secrets.</summary>
internal static class Identifiers
{
    private const string Alphabet = "abcdefghijkmnpqrstuvwxyz23456789";

    /// <summary>A prefixed random id such as "h-3kq9t2mzpa" (10 chars, 50 bits).</summary>
    public static string New(string prefix) => $"{prefix}-{RandomString(10)}";

    /// <summary>A high-entropy secret (256 bits), safe to hash with SHA-256 for storage.</summary>
    public static string NewSecret(string prefix) => $"{prefix}_{RandomString(52)}";

    public static byte[] Hash(string secret) => SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(secret));

    private static string RandomString(int length) =>
        string.Create(length, 0, static (span, _) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = Alphabet[RandomNumberGenerator.GetInt32(Alphabet.Length)];
            }
        });
}
