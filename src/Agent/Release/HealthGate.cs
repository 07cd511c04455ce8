namespace OdooFleet.Agent.Release;

/// <summary>The outcome of a health gate: passed, or why not (the last failing probe).</summary>
internal sealed record HealthGateResult(bool Passed, string Detail, int Rounds)
{
    /// <summary>When the final unbroken healthy stretch began (null when it never was healthy).</summary>
    public DateTimeOffset? HealthySince { get; init; }
}

/// <summary>
/// Odoo is healthy when every URL (/web/health and each database's /web/login?db=) answers 200,
/// without a break for <c>minHealthy</c>, within <c>timeout</c> of the start. Rounds of probes run
/// every <c>interval</c> on the injected clock; each round is judged at the time it started, and the
/// next one is due one interval after it, so a clock moved meanwhile is caught up, never lost.
/// </summary>
internal sealed class HealthGate(HttpClient http, TimeProvider time, IReadOnlyList<Uri> urls, TimeSpan minHealthy, TimeSpan timeout, TimeSpan interval)
{
    /// <summary>How long one probe may take (bounded by the gate's own deadline).</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public async Task<HealthGateResult> WaitAsync(CancellationToken ct)
    {
        var start = time.GetUtcNow();
        DateTimeOffset? healthySince = null;
        var detail = "no probe ran";
        for (var round = 1; ; round++)
        {
            var at = time.GetUtcNow();
            var failure = await ProbeAllAsync(ct);
            if (failure is null)
            {
                healthySince ??= at;
                if (at - healthySince.Value >= minHealthy)
                {
                    return new HealthGateResult(true, $"healthy for {(at - healthySince.Value).TotalSeconds:0} s", round) { HealthySince = healthySince };
                }
            }
            else
            {
                healthySince = null;
                detail = failure;
            }

            if (at - start >= timeout)
            {
                var why = healthySince is null ? detail : $"healthy only since {(at - healthySince.Value).TotalSeconds:0} s (needs {minHealthy.TotalSeconds:0} s)";
                return new HealthGateResult(false, $"not healthy for {minHealthy.TotalSeconds:0} s without a break within {timeout.TotalSeconds:0} s ({why})", round);
            }

            var wait = at + interval - time.GetUtcNow();
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, time, ct);
            }
        }
    }

    /// <summary>Null when every URL answered 200, else the first failure.</summary>
    private async Task<string?> ProbeAllAsync(CancellationToken ct)
    {
        foreach (var url in urls)
        {
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
            attempt.CancelAfter(ProbeTimeout);
            try
            {
                using var response = await http.GetAsync(url, attempt.Token);
                if ((int)response.StatusCode != 200)
                {
                    return $"GET {url.PathAndQuery}: HTTP {(int)response.StatusCode}";
                }
            }
            catch (HttpRequestException e)
            {
                return $"GET {url.PathAndQuery}: {e.Message}";
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                return $"GET {url.PathAndQuery}: no answer within {ProbeTimeout.TotalSeconds:0} s";
            }
        }

        return null;
    }
}
