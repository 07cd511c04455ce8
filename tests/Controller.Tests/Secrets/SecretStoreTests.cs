using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Controller.Secrets;
using OdooFleet.Controller.Tests.Persistence;
using Xunit;

namespace OdooFleet.Controller.Tests.Secrets;

/// <summary>The encrypted secret store on a real PostgreSQL.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SecretStoreTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly SecretKey KeyA = new(RandomNumberGenerator.GetBytes(32));
    private static readonly SecretKey KeyB = new(RandomNumberGenerator.GetBytes(32));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private SecretStore Store(SecretKey current, params SecretKey[] previous) =>
        new(fixture.Database.DataSource, new SecretKeyRing(current, previous), TimeProvider.System, NullLogger<SecretStore>.Instance);

    private static string Name(string what) => $"test/{what}/{Guid.NewGuid():N}";

    private async Task<byte[]> RawCiphertextAsync(string name)
    {
        await using var cmd = fixture.Database.DataSource.CreateCommand("SELECT ciphertext FROM secrets WHERE name = $1");
        cmd.Parameters.AddWithValue(name);
        return (byte[])(await cmd.ExecuteScalarAsync(Ct))!;
    }

    [Fact]
    public async Task SetThenGet_RoundTripsAndTheDatabaseHoldsNoClearText()
    {
        var name = Name("db-password");
        var secret = Encoding.UTF8.GetBytes("correct horse battery staple " + Guid.NewGuid());

        await Store(KeyA).SetAsync(name, secret, Ct);

        Assert.Equal(secret, await Store(KeyA).GetAsync(name, Ct));
        var raw = await RawCiphertextAsync(name);
        Assert.NotEqual(secret, raw);
        Assert.DoesNotContain("horse", Encoding.UTF8.GetString(raw), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_Unknown_IsNull()
    {
        Assert.Null(await Store(KeyA).GetAsync(Name("missing"), Ct));
    }

    [Fact]
    public async Task Get_WithoutTheKeyThatSealedIt_RefusedNamingTheKeyNotTheValue()
    {
        var name = Name("ca-key");
        await Store(KeyA).SetAsync(name, "top secret"u8.ToArray(), Ct);

        var e = await Assert.ThrowsAsync<SecretKeyException>(() => Store(KeyB).GetAsync(name, Ct));

        Assert.Contains(KeyA.Id, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("top secret", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_CiphertextCopiedFromAnotherName_DoesNotOpen()
    {
        var a = Name("a");
        var b = Name("b");
        // Its own key: the altered row it leaves behind stays unreadable, apart from the other tests' rows.
        var store = Store(new SecretKey(RandomNumberGenerator.GetBytes(32)));
        await store.SetAsync(a, "value of a"u8.ToArray(), Ct);
        await store.SetAsync(b, "value of b"u8.ToArray(), Ct);
        await using (var copy = fixture.Database.DataSource.CreateCommand(
            "UPDATE secrets SET nonce = src.nonce, ciphertext = src.ciphertext, tag = src.tag FROM secrets src WHERE secrets.name = $2 AND src.name = $1"))
        {
            copy.Parameters.AddWithValue(a);
            copy.Parameters.AddWithValue(b);
            Assert.Equal(1, await copy.ExecuteNonQueryAsync(Ct));
        }

        var e = await Assert.ThrowsAsync<SecretKeyException>(() => store.GetAsync(b, Ct));
        Assert.Contains("altered or copied", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rotate_NewCurrentKey_ResealsOldRowsAndTheOldKeyIsNoLongerNeeded()
    {
        var name = Name("rotated");
        await Store(KeyA).SetAsync(name, "survives rotation"u8.ToArray(), Ct);

        var resealed = await Store(KeyB, KeyA).RotateAsync(Ct);

        Assert.True(resealed >= 1);
        Assert.Equal("survives rotation"u8.ToArray(), await Store(KeyB).GetAsync(name, Ct));
        await using var left = fixture.Database.DataSource.CreateCommand("SELECT count(*) FROM secrets WHERE key_id = $1");
        left.Parameters.AddWithValue(KeyA.Id);
        Assert.Equal(0L, await left.ExecuteScalarAsync(Ct));
    }

    [Fact]
    public async Task GetOrAdd_ConcurrentFirstStarts_OneValueWinsForEveryone()
    {
        var name = Name("fleet-ca");
        var candidates = Enumerable.Range(0, 8).Select(_ => RandomNumberGenerator.GetBytes(16)).ToList();

        var results = await Task.WhenAll(candidates.Select(c => Store(KeyA).GetOrAddAsync(name, () => c, Ct)));

        Assert.All(results, r => Assert.Equal(results[0], r));
        Assert.Contains(candidates, c => c.SequenceEqual(results[0]));
        Assert.Equal(results[0], await Store(KeyA).GetAsync(name, Ct));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a b")]
    [InlineData("x\ny")]
    [InlineData("name;drop")]
    public async Task Set_BadName_Refused(string name)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Store(KeyA).SetAsync(name, "v"u8.ToArray(), Ct));
    }

    [Fact]
    public void Key_WrongLengthOrNotBase64_ErrorSaysHowToMakeOne()
    {
        var shortKey = Assert.Throws<SecretKeyException>(() => SecretKey.FromBase64(Convert.ToBase64String(new byte[16]), "Secrets:Key"));
        var notBase64 = Assert.Throws<SecretKeyException>(() => SecretKey.FromBase64("not base64!", "Secrets:Key"));

        Assert.Contains("32 bytes", shortKey.Message, StringComparison.Ordinal);
        Assert.Contains("head -c32 /dev/urandom | base64", notBase64.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void KeyFile_ReadableByOthers_Refused()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);

            var e = Assert.Throws<SecretKeyException>(() => SecretKey.FromFile(path));

            Assert.Contains("chmod 0600", e.Message, StringComparison.Ordinal);
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            Assert.Equal(32, SecretKey.FromFile(path).Bytes.Length);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
