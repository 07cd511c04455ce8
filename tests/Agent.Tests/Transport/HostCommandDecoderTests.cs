using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Agent.Transport;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Tests.Transport;

/// <summary>The decoder with real signatures (a test signing key) and a real replay guard over a temp file.</summary>
public sealed class HostCommandDecoderTests : IDisposable
{
    private const string HostId = "h-3kq9t2mzpa";
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    private readonly TestPki pki = new();
    private readonly TestPki otherPki = new("another CA");
    private readonly TempDirectory state = new();
    private readonly FakeTimeProvider time = new(Now);
    private readonly CommandVerifier verifier;
    private ReplayGuard replay;
    private int nonces;

    public HostCommandDecoderTests()
    {
        verifier = pki.Verifier();
        replay = ReplayGuard.OpenAsync(ReplayPath, time, Ct).GetAwaiter().GetResult();
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string ReplayPath => state.Combine("nonces.json");

    public void Dispose()
    {
        replay.Dispose();
        verifier.Dispose();
        pki.Dispose();
        otherPki.Dispose();
        state.Dispose();
    }

    private CommandDecision Decide(byte[] body, long reported = 0) =>
        HostCommandDecoder.Decide(body, new CommandContext(HostId, reported, verifier, replay, time.GetUtcNow()));

    private string NewNonce() => $"nonce-{Interlocked.Increment(ref nonces):D4}-abcdefghijkl";

    private HostCommand Converge(long generation, string hostId = HostId, string? nonce = null) => new()
    {
        CommandId = "c_1",
        HostId = hostId,
        IssuedAt = Timestamp.FromDateTimeOffset(Now),
        ExpiresAt = Timestamp.FromDateTimeOffset(Now.AddMinutes(10)),
        Nonce = nonce ?? NewNonce(),
        Converge = new ConvergeCommand { Generation = generation },
    };

    private HostCommand Plan(string requestId, string hostId = HostId) => new()
    {
        CommandId = "c_9",
        HostId = hostId,
        IssuedAt = Timestamp.FromDateTimeOffset(Now),
        ExpiresAt = Timestamp.FromDateTimeOffset(Now.AddMinutes(10)),
        Nonce = NewNonce(),
        Plan = new PlanCommand { RequestId = requestId },
    };

    private static string ReasonOf(CommandDecision decision) => Assert.IsType<CommandDecision.Reject>(decision).Reason;

    private async Task AdmitAsync(CommandDecision decision)
    {
        var admission = decision switch
        {
            CommandDecision.Converge c => c.Admission,
            CommandDecision.Plan p => p.Admission,
            CommandDecision.AlreadyDone d => d.Admission,
            _ => throw new InvalidOperationException($"not accepted: {decision}"),
        };
        Assert.Equal(ReplayRecord.Recorded, await replay.TryRecordAsync(admission.Nonce, admission.KeepUntil, Ct));
    }

    [Fact]
    public void Decide_SignedConvergeForThisHost_ConvergesWithNonceKeptUntilExpiryPlusSkew()
    {
        var command = Converge(6);
        var converge = Assert.IsType<CommandDecision.Converge>(Decide(pki.Sign(command), reported: 5));

        Assert.Equal(6, converge.Generation);
        Assert.Equal("c_1", converge.CommandId);
        Assert.Equal(command.Nonce, converge.Admission.Nonce);
        Assert.Equal(Now.AddMinutes(10) + HostCommandDecoder.ClockSkew, converge.Admission.KeepUntil);
    }

    [Fact]
    public void Decide_EmptyBody_Rejected() =>
        Assert.Contains("empty body", ReasonOf(Decide([])), StringComparison.Ordinal);

    [Fact]
    public void Decide_MalformedBytes_RejectedWithReason() =>
        Assert.Contains("not a protobuf fleet.v1.SignedHostCommand", ReasonOf(Decide([0xff, 0xff, 0xff, 0x01, 0x02])), StringComparison.Ordinal);

    [Fact]
    public void Decide_UnsignedHostCommandAsBody_RejectedAsUnsigned()
    {
        // What an old controller publishes: a bare HostCommand. Its fields do not fill command and signature.
        var reason = ReasonOf(Decide(Converge(6).ToByteArray()));
        Assert.True(reason.Contains("unsigned", StringComparison.Ordinal) || reason.Contains("not a protobuf", StringComparison.Ordinal), reason);
    }

    [Fact]
    public void Decide_EmptySignature_RejectedAsUnsigned()
    {
        var body = new SignedHostCommand { Command = Converge(6).ToByteString(), KeyId = pki.SigningKeyId }.ToByteArray();
        Assert.Contains("unsigned", ReasonOf(Decide(body)), StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_SignedByAnotherKeyUnderOurKeyId_BadSignature() =>
        Assert.Contains("bad signature", ReasonOf(Decide(otherPki.Sign(Converge(6), keyId: pki.SigningKeyId))), StringComparison.Ordinal);

    [Fact]
    public void Decide_UnknownKeyId_RejectedNamingIt() =>
        Assert.Contains($"unknown key_id '{otherPki.SigningKeyId}'", ReasonOf(Decide(otherPki.Sign(Converge(6)))), StringComparison.Ordinal);

    [Fact]
    public void Decide_TamperedByteInCommand_BadSignature()
    {
        var signed = SignedHostCommand.Parser.ParseFrom(pki.Sign(Converge(6)));
        var command = signed.Command.ToByteArray();
        command[^1] ^= 0x01; // the generation's last byte: still a valid HostCommand, now for another generation
        signed.Command = ByteString.CopyFrom(command);

        Assert.Contains("bad signature", ReasonOf(Decide(signed.ToByteArray())), StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_TamperedSignature_BadSignature()
    {
        var signed = SignedHostCommand.Parser.ParseFrom(pki.Sign(Converge(6)));
        var signature = signed.Signature.ToByteArray();
        signature[10] ^= 0x80;
        signed.Signature = ByteString.CopyFrom(signature);

        Assert.Contains("bad signature", ReasonOf(Decide(signed.ToByteArray())), StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_DerSignatureInsteadOfP1363_BadSignature()
    {
        var command = Converge(6).ToByteArray();
        var body = new SignedHostCommand
        {
            Command = ByteString.CopyFrom(command),
            Signature = ByteString.CopyFrom(pki.SigningKey.SignData(command, System.Security.Cryptography.HashAlgorithmName.SHA256,
                System.Security.Cryptography.DSASignatureFormat.Rfc3279DerSequence)),
            KeyId = pki.SigningKeyId,
        }.ToByteArray();

        Assert.Contains("bad signature", ReasonOf(Decide(body)), StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_ForeignHost_RejectedNamingBoth()
    {
        var reason = ReasonOf(Decide(pki.Sign(Converge(3, hostId: "h-other"))));
        Assert.Contains("h-other", reason, StringComparison.Ordinal);
        Assert.Contains(HostId, reason, StringComparison.Ordinal);
    }

    public static TheoryData<string, int, int, string?> TimeCases => new()
    {
        // name, issued (s from now), expires (s from now), expected reason fragment (null = accepted)
        { "fresh", 0, 600, null },
        { "expired within skew", -700, -59, null },
        { "expired beyond skew", -700, -61, "expired at" },
        { "issued within skew ahead", 59, 600, null },
        { "issued in the future", 61, 600, "issued in the future" },
        { "lifetime exactly 24 h", -10, (24 * 3600) - 10, null },
        { "lifetime over 24 h", -10, (24 * 3600) - 9, "at most 24 h" },
        { "expires before issued", 0, -10, "before issued_at" },
    };

    [Theory]
    [MemberData(nameof(TimeCases))]
    public void Decide_TimeWindow_AcceptedOrRejected(string name, int issuedSeconds, int expiresSeconds, string? expected)
    {
        var command = Converge(6);
        command.IssuedAt = Timestamp.FromDateTimeOffset(Now.AddSeconds(issuedSeconds));
        command.ExpiresAt = Timestamp.FromDateTimeOffset(Now.AddSeconds(expiresSeconds));

        var decision = Decide(pki.Sign(command));

        if (expected is null)
        {
            Assert.True(decision is CommandDecision.Converge, $"{name}: {decision}");
        }
        else
        {
            Assert.Contains(expected, ReasonOf(decision), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Decide_MissingExpiresAt_Rejected()
    {
        var command = Converge(6);
        command.ExpiresAt = null;
        Assert.Contains("issued_at and expires_at are required", ReasonOf(Decide(pki.Sign(command))), StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_MissingIssuedAt_Rejected()
    {
        var command = Converge(6);
        command.IssuedAt = null;
        Assert.Contains("issued_at and expires_at are required", ReasonOf(Decide(pki.Sign(command))), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("short-nonce-15ch")]
    [InlineData("nonce with spaces and more")]
    [InlineData("nonce-\u001b[2J-escape-sequence")]
    public void Decide_BadNonce_Rejected(string nonce)
    {
        var reason = ReasonOf(Decide(pki.Sign(Converge(6, nonce: nonce == "short-nonce-15ch" ? nonce[..15] : nonce))));
        Assert.Contains("nonce is not 16-128 characters", reason, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', reason);
    }

    [Fact]
    public async Task Decide_ReplayedNonce_Rejected()
    {
        var body = pki.Sign(Converge(6));
        await AdmitAsync(Decide(body));

        Assert.Contains("replayed", ReasonOf(Decide(body)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Decide_ReplayAfterRestartOfTheGuard_Rejected()
    {
        var body = pki.Sign(Converge(6));
        await AdmitAsync(Decide(body));
        replay.Dispose();

        replay = await ReplayGuard.OpenAsync(ReplayPath, time, Ct);

        Assert.Equal(1, replay.Count);
        Assert.Contains("replayed", ReasonOf(Decide(body)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TryRecordAsync_AfterExpiryPlusSkew_OldNoncePrunedAndItsCommandRejectedAsExpired()
    {
        var body = pki.Sign(Converge(6));
        await AdmitAsync(Decide(body));

        time.Advance(TimeSpan.FromMinutes(10) + HostCommandDecoder.ClockSkew + TimeSpan.FromSeconds(1));
        Assert.Equal(ReplayRecord.Recorded, await replay.TryRecordAsync(NewNonce(), time.GetUtcNow().AddMinutes(10), Ct));

        Assert.Equal(1, replay.Count);
        Assert.Contains("expired at", ReasonOf(Decide(body)), StringComparison.Ordinal);
        replay.Dispose();
        replay = await ReplayGuard.OpenAsync(ReplayPath, time, Ct);
        Assert.Equal(1, replay.Count);
    }

    [Fact]
    public async Task ForgetAsync_CommandNotApplied_SameMessageAcceptedOnRedeliveryAndAfterRestart()
    {
        var body = pki.Sign(Converge(6));
        var admitted = Assert.IsType<CommandDecision.Converge>(Decide(body));
        await AdmitAsync(admitted);
        Assert.Contains("replayed", ReasonOf(Decide(body)), StringComparison.Ordinal);

        await replay.ForgetAsync(admitted.Admission.Nonce, Ct);

        Assert.IsType<CommandDecision.Converge>(Decide(body));
        replay.Dispose();
        replay = await ReplayGuard.OpenAsync(ReplayPath, time, Ct);
        Assert.Equal(0, replay.Count);
        Assert.IsType<CommandDecision.Converge>(Decide(body));
    }

    [Fact]
    public async Task TryRecordAsync_Full_RefusesNewNoncesUntilOldOnesExpire()
    {
        using var small = await ReplayGuard.OpenAsync(state.Combine("small.json"), time, Ct, capacity: 2);
        Assert.Equal(ReplayRecord.Recorded, await small.TryRecordAsync(NewNonce(), Now.AddMinutes(5), Ct));
        Assert.Equal(ReplayRecord.Recorded, await small.TryRecordAsync(NewNonce(), Now.AddMinutes(20), Ct));

        Assert.Equal(ReplayRecord.Full, await small.TryRecordAsync(NewNonce(), Now.AddMinutes(10), Ct));

        time.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal(ReplayRecord.Recorded, await small.TryRecordAsync(NewNonce(), time.GetUtcNow().AddMinutes(10), Ct));
    }

    [Fact]
    public async Task OpenAsync_CorruptFile_MovedAsideAndCommandsIssuedBeforeNowRefused()
    {
        await File.WriteAllTextAsync(ReplayPath, "{ not json", Ct);
        replay.Dispose();
        time.Advance(TimeSpan.FromSeconds(30));

        replay = await ReplayGuard.OpenAsync(ReplayPath, time, Ct);

        Assert.NotNull(replay.CorruptCopy);
        Assert.True(File.Exists(replay.CorruptCopy));
        Assert.Contains("before the replay cache was reset", ReasonOf(Decide(pki.Sign(Converge(6)))), StringComparison.Ordinal);
        var fresh = Converge(7);
        fresh.IssuedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow());
        Assert.IsType<CommandDecision.Converge>(Decide(pki.Sign(fresh)));
        replay.Dispose();
        replay = await ReplayGuard.OpenAsync(ReplayPath, time, Ct);
        Assert.Equal(time.GetUtcNow(), replay.RefuseIssuedBefore);
    }

    [Fact]
    public void Decide_NoKnownKind_Rejected()
    {
        var command = Converge(6);
        command.ClearKind();
        Assert.Contains("no known command kind", ReasonOf(Decide(pki.Sign(command))), StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_UnknownFutureKind_Rejected()
    {
        var command = Converge(6);
        command.ClearKind();
        // Field 15 is not in this agent's HostCommand: a newer controller's command kind.
        byte[] inner = [.. command.ToByteArray(), 0x7a, 0x02, 0x08, 0x01];
        Assert.Contains("no known command kind", ReasonOf(Decide(pki.Sign(inner))), StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_PlanForThisHost_PlanWithRequestIdAndIssuedAt()
    {
        var plan = Assert.IsType<CommandDecision.Plan>(Decide(pki.Sign(Plan("p-3kq9t2mzpa")), reported: 5));

        Assert.Equal("p-3kq9t2mzpa", plan.RequestId);
        Assert.Equal("c_9", plan.CommandId);
        Assert.Equal(Now, plan.IssuedAt);
    }

    [Fact]
    public void Decide_PlanForAnotherHost_RejectedNamingBoth()
    {
        var reason = ReasonOf(Decide(pki.Sign(Plan("p-3kq9t2mzpa", hostId: "h-other"))));
        Assert.Contains("h-other", reason, StringComparison.Ordinal);
        Assert.Contains(HostId, reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("p 1")]
    [InlineData("p-1\n")]
    [InlineData("../../etc/passwd")]
    [InlineData("p-\u001b[2J")]
    public void Decide_PlanWithMalformedRequestId_Rejected(string requestId)
    {
        var reason = ReasonOf(Decide(pki.Sign(Plan(requestId))));

        Assert.Contains("plan request_id", reason, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', reason);
        Assert.DoesNotContain('\u001b', reason);
    }

    [Fact]
    public void Decide_PlanRequestIdOver64Characters_Rejected() =>
        Assert.Contains("plan request_id", ReasonOf(Decide(pki.Sign(Plan(new string('p', 65))))), StringComparison.Ordinal);

    [Fact]
    public void Decide_NonPositiveGeneration_Rejected() =>
        Assert.Contains("not positive", ReasonOf(Decide(pki.Sign(Converge(0)))), StringComparison.Ordinal);

    [Fact]
    public void Decide_GenerationAlreadyReported_AckedAsDuplicate()
    {
        var done = Assert.IsType<CommandDecision.AlreadyDone>(Decide(pki.Sign(Converge(4)), reported: 5));
        Assert.Equal(4, done.Generation);
    }

    private HostCommand Stage(string commit, string sha256) => new()
    {
        CommandId = "stage-1",
        HostId = HostId,
        IssuedAt = Timestamp.FromDateTimeOffset(Now),
        ExpiresAt = Timestamp.FromDateTimeOffset(Now.AddMinutes(10)),
        Nonce = NewNonce(),
        Stage = new StageReleaseCommand
        {
            Release = new OdooRelease { Series = "18.0", Commit = commit },
            Artifact = new ReleaseArtifact { Path = $"/releases/18.0-{commit}.tar.gz", Sha256 = sha256, SizeBytes = 1234 },
            RolloutId = "r-42",
        },
    };

    [Fact]
    public void Decide_StageCommand_StageWithReleaseAndArtifact()
    {
        var commit = new string('a', 40);

        var stage = Assert.IsType<CommandDecision.Stage>(Decide(pki.Sign(Stage(commit, new string('f', 64)))));

        Assert.Equal(("stage-1", "18.0", commit, "r-42"), (stage.CommandId, stage.Release.Series, stage.Release.Commit, stage.RolloutId));
        Assert.Equal(new OdooFleet.Agent.Engine.ReleaseArtifactRef($"/releases/18.0-{commit}.tar.gz", new string('f', 64), 1234), stage.Artifact);
    }

    [Fact]
    public void Decide_StageCommandWithBadHash_RejectedNamingTheField() =>
        Assert.Contains("odoo.artifact.sha256", ReasonOf(Decide(pki.Sign(Stage(new string('a', 40), "NOTHEX")))), StringComparison.Ordinal);

    [Fact]
    public void Decide_StageCommandWithBadCommit_Rejected() =>
        Assert.Contains("stage command stage-1", ReasonOf(Decide(pki.Sign(Stage("../../etc", new string('f', 64))))), StringComparison.Ordinal);
}
