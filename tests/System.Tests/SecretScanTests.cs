using System.Security.Cryptography;
using System.Text;
using OdooFleet.SystemTests.Infrastructure;

namespace OdooFleet.SystemTests;

/// <summary>
/// Runs last (see <see cref="SecretScanLast"/>): every secret of the run (the stack's passwords and
/// API token, every value in the controllers' secret store, each host's broker password and private
/// key, every token the tests made) is looked for in every log of the run: both controllers' logs,
/// each test host's journal, the events and the audit tables. One hit fails the run.
/// </summary>
[Collection(StackGroup.Name)]
public sealed class SecretScanTests(LiveFleet stack)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Logs_WholeRun_NeverContainASecretValue()
    {
        var secrets = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in new[] { "OF_PG_PASSWORD", "OF_MQ_PASSWORD", "OF_API_TOKEN" })
        {
            secrets[stack.Secrets[name]] = $"stack.env {name}";
        }

        var storeKey = (await File.ReadAllTextAsync("/etc/odoofleet/secrets.key", Ct)).Trim();
        secrets[storeKey] = "the secret store key";
        foreach (var (name, value) in await OpenSecretStoreAsync(Convert.FromBase64String(storeKey)))
        {
            foreach (var form in Forms(value))
            {
                secrets.TryAdd(form, $"secret store '{name}'");
            }
        }

        foreach (var host in LiveFleet.HostNames)
        {
            var brokerPassword = (await LiveFleet.OnHostAsync(host, "python3", "-c",
                "import json; print(json.load(open('/etc/odoofleet/agent.json'))['broker']['password'])")).Stdout.Trim();
            secrets[brokerPassword] = $"{host} broker password";
            var identity = (await LiveFleet.OnHostAsync(host, "cat", "/etc/odoofleet/agent-identity.pem")).Stdout;
            foreach (var line in PrivateKeyLines(identity))
            {
                secrets.TryAdd(line, $"{host} private key");
            }
        }

        foreach (var value in LiveFleet.RememberedSecrets)
        {
            secrets.TryAdd(value, "a token or password a test made");
        }

        Assert.All(secrets.Keys, s => Assert.True(s.Length >= 16, "a secret to look for is too short to mean anything"));
        Assert.Contains(secrets.Values, v => v.StartsWith("secret store", StringComparison.Ordinal));
        Assert.Contains(secrets.Values, v => v.EndsWith("private key", StringComparison.Ordinal));

        var logs = new List<(string Where, string Text)>();
        foreach (var file in Directory.GetFiles("/var/lib/odoofleet/stack", "controller-*.log"))
        {
            logs.Add((file, await File.ReadAllTextAsync(file, Ct)));
        }

        foreach (var host in LiveFleet.HostNames)
        {
            logs.Add(($"{host} journal", (await LiveFleet.OnHostAsync(host, "journalctl", "--no-pager", "-q", "-o", "cat")).Stdout));
        }

        logs.Add(("events table", await TableTextAsync("SELECT type || ' ' || subject || ' ' || data::text FROM events")));
        logs.Add(("audit_log table", await TableTextAsync("SELECT concat_ws(' ', actor, action, target, result, address, detail::text) FROM audit_log")));

        Assert.All(logs, log => Assert.True(log.Text.Length > 0, $"{log.Where} is empty: nothing was scanned"));
        var hits = (from log in logs
                    from secret in secrets
                    where log.Text.Contains(secret.Key, StringComparison.Ordinal)
                    select $"{log.Where} contains {secret.Value}").ToList();
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"secret scan: {secrets.Count} secret values in {logs.Count} logs ({logs.Sum(l => l.Text.Length):N0} characters): {hits.Count} hits");
        Assert.Empty(hits);
    }

    /// <summary>Opens every row of the controllers' secret store the way the controller does (AES-256-GCM, the name as associated data).</summary>
    private async Task<List<(string Name, byte[] Value)>> OpenSecretStoreAsync(byte[] key)
    {
        var values = new List<(string, byte[])>();
        await using var cmd = stack.Db.CreateCommand("SELECT name, nonce, ciphertext, tag FROM secrets");
        await using var reader = await cmd.ExecuteReaderAsync(Ct);
        using var aes = new AesGcm(key, 16);
        while (await reader.ReadAsync(Ct))
        {
            var name = reader.GetString(0);
            var ciphertext = reader.GetFieldValue<byte[]>(2);
            var plain = new byte[ciphertext.Length];
            aes.Decrypt(reader.GetFieldValue<byte[]>(1), ciphertext, reader.GetFieldValue<byte[]>(3), plain, Encoding.UTF8.GetBytes(name));
            values.Add((name, plain));
        }

        Assert.NotEmpty(values);
        return values;
    }

    /// <summary>How a secret could show up in text: as itself (when it is text), base64 and hex, in slices long enough to be unique.</summary>
    private static IEnumerable<string> Forms(byte[] value)
    {
        var text = Encoding.UTF8.GetString(value);
        if (text.Contains("-----BEGIN", StringComparison.Ordinal))
        {
            // PEM: only the private key's lines are secret (a certificate beside it is public).
            foreach (var line in PrivateKeyLines(text))
            {
                yield return line;
            }
        }
        else if (text.Length >= 16 && text.All(c => !char.IsControl(c) || c is '\n' or '\r'))
        {
            foreach (var line in text.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (line.Length >= 16 && !line.StartsWith("-----", StringComparison.Ordinal))
                {
                    yield return line;
                }
            }
        }

        yield return Slice(Convert.ToBase64String(value));
        yield return Slice(Convert.ToHexStringLower(value));
        yield return Slice(Convert.ToHexString(value));
    }

    private static string Slice(string s) => s.Length > 40 ? s[..40] : s;

    private static IEnumerable<string> PrivateKeyLines(string pem)
    {
        var inKey = false;
        foreach (var line in pem.Split('\n', StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith("-----BEGIN", StringComparison.Ordinal))
            {
                inKey = line.Contains("PRIVATE KEY", StringComparison.Ordinal);
            }
            else if (line.StartsWith("-----END", StringComparison.Ordinal))
            {
                inKey = false;
            }
            else if (inKey && line.Length >= 16)
            {
                yield return line;
            }
        }
    }

    private async Task<string> TableTextAsync(string sql)
    {
        var text = new StringBuilder();
        await using var cmd = stack.Db.CreateCommand(sql);
        await using var reader = await cmd.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            text.AppendLine(reader.GetString(0));
        }

        return text.ToString();
    }
}
