using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// An HTTP endpoint that must answer 200 (e.g. Odoo's /web/health) within a deadline. Observing
/// polls (reads only); a red check cannot be "applied", so it fails the converge with the last error.
/// </summary>
internal sealed class HealthCheckResource(
    HttpClient http, TimeProvider time, string name, Uri url, TimeSpan deadline, TimeSpan interval)
    : Resource<HealthCheckResource.Observed>
{
    internal sealed record Observed(bool Healthy, string Detail, int Attempts) : Observation;

    public override string Id => $"health:{name}";

    public override string Kind => "health";

    /// <summary>Polls until healthy or its deadline: only worth doing once the service it checks has converged.</summary>
    public override bool CanPrefetch => false;

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        var started = time.GetTimestamp();
        var attempts = 0;
        var detail = "";
        while (true)
        {
            attempts++;
            var remaining = deadline - time.GetElapsedTime(started);
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
            attempt.CancelAfter(TimeSpan.FromSeconds(Math.Clamp(remaining.TotalSeconds, 1, 10)));
            try
            {
                using var response = await http.GetAsync(url, attempt.Token);
                if ((int)response.StatusCode == 200)
                {
                    return new Observed(true, "200", attempts);
                }

                detail = $"HTTP {(int)response.StatusCode}";
            }
            catch (HttpRequestException e)
            {
                detail = e.Message;
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                detail = "no answer (request timed out)";
            }

            if (time.GetElapsedTime(started) + interval >= deadline)
            {
                return new Observed(false, detail, attempts);
            }

            await Task.Delay(interval, time, ct);
        }
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies) =>
        observed.Healthy
            ? null
            : throw new ResourceFailedException(
                $"GET {url} did not answer 200 within {deadline.TotalSeconds:0} s ({observed.Attempts} attempts, last: {observed.Detail}); check `journalctl -u odoo` and /var/log/odoo/odoo.log");

    public override Task<string?> ApplyAsync(Change change, CancellationToken ct) =>
        throw new ResourceFailedException($"{Id} cannot be applied, only observed");
}
