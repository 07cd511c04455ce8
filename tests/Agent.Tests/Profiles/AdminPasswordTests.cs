using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Tests.Profiles;

public sealed class AdminPasswordTests
{
    private static readonly byte[] Salt = [.. Enumerable.Range(0, 16).Select(i => (byte)i)];

    // Computed with Python's hashlib.pbkdf2_hmac('sha512', ...) and passlib's ab64 ('.' for '+', no padding).
    private const string AdminAt1000Rounds =
        "$pbkdf2-sha512$1000$AAECAwQFBgcICQoLDA0ODw$aKgGNHu34fR74hlBgfFekJphXK1N3gnOe3Lgp8FO48d8kwG6FEqYI1r0qdB.aSgGSQ2FwLojT47uLUbOD1cDhw";

    private const string UnicodeAt210000Rounds =
        "$pbkdf2-sha512$210000$AAECAwQFBgcICQoLDA0ODw$i86sggKQEqh5IGVVRaPfW2qUSjckKUpbkHT5cwhcDvtbPYlZUzrNUFzjatkR.0tiFMtJW.j9jCRu.Rks1cLQXw";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Recomputes the hash of the secret (read from stdin) with the salt and rounds parsed from <paramref name="hash"/>, in real Python.</summary>
    private static async Task<string> PythonRehashAsync(string secret, string hash)
    {
        const string Script = """
            import base64, hashlib, sys
            _, scheme, rounds, salt, _checksum = sys.argv[1].split('$')
            ab64_decode = lambda s: base64.b64decode(s.replace('.', '+') + '=' * (-len(s) % 4))
            ab64_encode = lambda b: base64.b64encode(b).decode().rstrip('=').replace('+', '.')
            secret = sys.stdin.buffer.read()
            checksum = hashlib.pbkdf2_hmac('sha512', secret, ab64_decode(salt), int(rounds), 64)
            print('$%s$%s$%s$%s' % (scheme, rounds, salt, ab64_encode(checksum)))
            """;
        var file = Path.Combine(Path.GetTempPath(), $"odoofleet-pbkdf2-{Guid.NewGuid():N}.py");
        await File.WriteAllTextAsync(file, Script, Ct);
        try
        {
            var result = await new ProcessCommandRunner().RunCheckedAsync(
                new CommandSpec("/usr/bin/python3", ["-I", file, hash]) { StandardInput = secret }, Ct);
            return result.Stdout.Trim();
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Generate_Hash_MatchesPythonPbkdf2OfTheSecret()
    {
        var generated = AdminPassword.Generate();

        Assert.Equal(generated.Hash, await PythonRehashAsync(generated.Secret, generated.Hash));
        Assert.StartsWith("$pbkdf2-sha512$600000$", generated.Hash, StringComparison.Ordinal);
        Assert.Null(AdminPassword.CheckHash("odoo.admin_passwd", generated.Hash));
        Assert.True(AdminPassword.Verify(generated.Secret, generated.Hash));
    }

    [Fact]
    public void Generate_Twice_RandomSecretsOf24Bytes()
    {
        var one = AdminPassword.Generate();
        var two = AdminPassword.Generate();

        Assert.NotEqual(one.Secret, two.Secret);
        Assert.NotEqual(one.Hash, two.Hash);
        Assert.Equal(24, Convert.FromBase64String(one.Secret.Replace('-', '+').Replace('_', '/')).Length);
        Assert.DoesNotContain(one.Secret, one.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("admin", 1000, AdminAt1000Rounds)]
    [InlineData("pässwörd", 210000, UnicodeAt210000Rounds)]
    public void Hash_KnownVector_MatchesPython(string secret, int rounds, string expected) =>
        Assert.Equal(expected, AdminPassword.Hash(secret, Salt, rounds));

    [Theory]
    [InlineData("admin", AdminAt1000Rounds, true)]
    [InlineData("Admin", AdminAt1000Rounds, false)]
    [InlineData("admin ", AdminAt1000Rounds, false)]
    [InlineData("pässwörd", UnicodeAt210000Rounds, true)]
    [InlineData("passwörd", UnicodeAt210000Rounds, false)]
    [InlineData("admin", "admin", false)]
    [InlineData("admin", "$pbkdf2-sha512$1000$AAECAwQFBgcICQoLDA0ODw$", false)]
    [InlineData("admin", "$pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw$aKgGNHu34fR74hlBgfFekJphXK1N3gnOe3Lgp8FO48d8kwG6FEqYI1r0qdB.aSgGSQ2FwLojT47uLUbOD1cDhw", false)]
    public void Verify_SecretAndHash_TrueOnlyForTheMatchingSecret(string secret, string hash, bool expected) =>
        Assert.Equal(expected, AdminPassword.Verify(secret, hash));

    [Fact]
    public async Task Verify_TamperedChecksum_False()
    {
        var generated = AdminPassword.Generate();
        var last = generated.Hash[^2];
        var tampered = generated.Hash[..^2] + (last == 'A' ? 'B' : 'A') + generated.Hash[^1];

        Assert.False(AdminPassword.Verify(generated.Secret, tampered));
        Assert.NotEqual(tampered, await PythonRehashAsync(generated.Secret, tampered));
    }

    [Theory]
    [InlineData("superadmin_secret_password", "is not a passlib pbkdf2-sha512 hash")]
    [InlineData("", "is not a passlib pbkdf2-sha512 hash")]
    [InlineData(AdminAt1000Rounds + "\n", "is not a passlib pbkdf2-sha512 hash")]
    [InlineData("$pbkdf2-sha256$600000$AAECAwQFBgcICQoLDA0ODw$aKgGNHu34fR74hlBgfFekJphXK1N3gnOe3Lgp8FO48d8kwG6FEqYI1r0qdB.aSgGSQ2FwLojT47uLUbOD1cDhw", "is not a passlib pbkdf2-sha512 hash")]
    [InlineData("$pbkdf2-sha512$600000$AAECAwQFBgcICQoLDA0ODw$aKgGNHu34fR74hlBgfFekJphXK1N3gnOe3Lgp8FO48d8kwG6FEqYI1r0qdB.aSgGSQ2FwLojT47uLUbOD1cDh", "is not a passlib pbkdf2-sha512 hash")]
    [InlineData("$pbkdf2-sha512$0600000$AAECAwQFBgcICQoLDA0ODw$aKgGNHu34fR74hlBgfFekJphXK1N3gnOe3Lgp8FO48d8kwG6FEqYI1r0qdB.aSgGSQ2FwLojT47uLUbOD1cDhw", "is not a passlib pbkdf2-sha512 hash")]
    [InlineData("$pbkdf2-sha512$600000$A$aKgGNHu34fR74hlBgfFekJphXK1N3gnOe3Lgp8FO48d8kwG6FEqYI1r0qdB.aSgGSQ2FwLojT47uLUbOD1cDhw", "is not valid ab64")]
    [InlineData(AdminAt1000Rounds, "1000 pbkdf2 rounds are fewer than 210000")]
    [InlineData("$pbkdf2-sha512$600000$AAECAwQFBgc$aKgGNHu34fR74hlBgfFekJphXK1N3gnOe3Lgp8FO48d8kwG6FEqYI1r0qdB.aSgGSQ2FwLojT47uLUbOD1cDhw", "8-byte salt is shorter than 16 bytes")]
    public void CheckHash_NotAnAcceptableHash_ErrorWithoutEchoingTheValue(string hash, string expected)
    {
        var error = AdminPassword.CheckHash("odoo.admin_passwd", hash);

        Assert.NotNull(error);
        Assert.StartsWith("odoo.admin_passwd: ", error, StringComparison.Ordinal);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        if (hash.Length > 0)
        {
            Assert.DoesNotContain(hash.Trim(), error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void CheckHash_Odoo18Hash_Accepted() =>
        Assert.Null(AdminPassword.CheckHash("odoo.admin_passwd", AdminPassword.Hash("x", Salt, AdminPassword.Rounds)));
}
