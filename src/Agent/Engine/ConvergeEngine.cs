using Microsoft.Extensions.Logging;

namespace OdooFleet.Agent.Engine;

/// <summary>
/// Runs a resource graph: dependency order (declaration order among independent resources),
/// observe → diff → apply per resource, a failure skips everything that depends on it.
/// Observations are prefetched in parallel (they never mutate): a converged host is checked in
/// the time of its slowest observation, not the sum of all. A prefetched observation is used only
/// if nothing the resource depends on, directly or not, was applied in this run; otherwise the
/// resource is observed again after its dependencies.
/// </summary>
internal sealed partial class ConvergeEngine(TimeProvider time, ILogger<ConvergeEngine> logger)
{
    /// <summary>Observations running at once: most run a short external program (systemctl, psql, dpkg-query).</summary>
    private const int ParallelObservations = 6;

    public Task<ConvergeOutcome> RunAsync(IReadOnlyList<IResource> resources, ConvergeMode mode, CancellationToken ct) =>
        RunAsync(resources, mode, null, ct);

    /// <summary>
    /// Runs the resources of <paramref name="scope"/> only (all when null), in the graph's order;
    /// dependencies outside the scope count as converged and unchanged.
    /// </summary>
    public async Task<ConvergeOutcome> RunAsync(IReadOnlyList<IResource> resources, ConvergeMode mode, ConvergeScope? scope, CancellationToken ct)
    {
        var ordered = Order(resources);
        if (scope is not null)
        {
            ordered = ordered.Where(r => scope.Ids.Contains(r.Id)).ToList();
        }

        var results = new Dictionary<string, ResourceResult>(StringComparer.Ordinal);
        var list = new List<ResourceResult>(ordered.Count);
        using var prefetchStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var gate = new SemaphoreSlim(ParallelObservations);
        var prefetched = ordered.ToDictionary(
            r => r.Id,
            r => r.CanPrefetch ? PrefetchAsync(r, gate, prefetchStop.Token) : null,
            StringComparer.Ordinal);

        // Resources applied in this run, and everything downstream of them: their prefetch is stale.
        var touched = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            foreach (var resource in ordered)
            {
                var stale = resource.DependsOn.Any(touched.Contains);
                var observation = stale ? null : prefetched[resource.Id];
                var result = await RunOneAsync(resource, results, mode, scope?.Isolated ?? false, observation, ct);
                if (stale || (mode == ConvergeMode.Apply && result.Status == ResourceStatus.Changed))
                {
                    touched.Add(resource.Id);
                }

                results[resource.Id] = result;
                list.Add(result);
                LogResult(logger, result.Id, result.Status, result.Message, (long)result.Duration.TotalMilliseconds);
            }
        }
        finally
        {
            await prefetchStop.CancelAsync();
            foreach (var pending in prefetched.Values.OfType<Task<Observation>>())
            {
                // Unused prefetches end here; their outcome does not matter any more.
                await pending.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }

        return new ConvergeOutcome(list);
    }

    private static async Task<Observation> PrefetchAsync(IResource resource, SemaphoreSlim gate, CancellationToken ct)
    {
        await gate.WaitAsync(ct);
        try
        {
            return await resource.ObserveAsync(ct);
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<ResourceResult> RunOneAsync(
        IResource resource, Dictionary<string, ResourceResult> done, ConvergeMode mode, bool isolated, Task<Observation>? prefetched, CancellationToken ct)
    {
        var started = time.GetTimestamp();
        ResourceResult Result(ResourceStatus status, string message, string? detail = null) =>
            new(resource.Id, resource.Kind, status, message, time.GetElapsedTime(started)) { Detail = detail };

        // A dependency missing from done is outside the run's scope: converged and unchanged.
        ResourceStatus StatusOf(string id) => done.TryGetValue(id, out var r) ? r.Status : ResourceStatus.Unchanged;
        var blocked = resource.DependsOn.FirstOrDefault(d => StatusOf(d) is ResourceStatus.Failed or ResourceStatus.Skipped);
        if (blocked is not null)
        {
            var why = StatusOf(blocked) == ResourceStatus.Failed ? "failed" : "was skipped";
            return Result(ResourceStatus.Skipped, $"dependency {blocked} {why}");
        }

        var changedDependencies = isolated
            ? []
            : resource.DependsOn.Where(d => StatusOf(d) == ResourceStatus.Changed).ToHashSet(StringComparer.Ordinal);
        string phase = "observe";
        try
        {
            var observed = prefetched is null ? await resource.ObserveAsync(ct) : await prefetched;
            phase = "diff";
            var change = resource.Diff(observed, changedDependencies);
            if (change is null)
            {
                return Result(ResourceStatus.Unchanged, "");
            }

            if (mode == ConvergeMode.Check)
            {
                return Result(ResourceStatus.Changed, "would " + change.Description, change.Detail);
            }

            phase = "apply";
            var message = await resource.ApplyAsync(change, ct);
            return Result(ResourceStatus.Changed, message ?? change.Description, change.Detail);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (mode == ConvergeMode.Check && phase == "observe" && changedDependencies.Count > 0)
        {
            // Check mode applies nothing, so a resource whose dependency would change first (the
            // package that provides its program, the directory it lives in) often cannot be observed
            // yet: that is a pending change, not a failure.
            var first = changedDependencies.Order(StringComparer.Ordinal).First();
            return Result(ResourceStatus.Changed, $"would converge after {first} (not observable before it: {FirstLine(e.Message)})");
        }
        catch (Exception e) when (e is ResourceFailedException or CommandFailedException)
        {
            return Result(ResourceStatus.Failed, e.Message);
        }
        catch (Exception e)
        {
            // Unexpected but local to this resource: report it, never take the agent down.
            return Result(ResourceStatus.Failed, $"{phase}: {e.GetType().Name}: {e.Message}");
        }
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0];

    /// <summary><paramref name="ids"/> and every resource that depends on one of them, directly or not.</summary>
    public static IReadOnlySet<string> WithDependents(IReadOnlyList<IResource> resources, IEnumerable<string> ids)
    {
        var result = new HashSet<string>(ids, StringComparer.Ordinal);
        // Order puts dependencies first, so one pass reaches every dependent.
        foreach (var resource in Order(resources))
        {
            if (resource.DependsOn.Any(result.Contains))
            {
                result.Add(resource.Id);
            }
        }

        return result;
    }

    /// <summary>Stable topological order; rejects duplicate ids, unknown dependencies and cycles.</summary>
    public static IReadOnlyList<IResource> Order(IReadOnlyList<IResource> resources)
    {
        var byId = new Dictionary<string, IResource>(StringComparer.Ordinal);
        foreach (var resource in resources)
        {
            if (!byId.TryAdd(resource.Id, resource))
            {
                throw new InvalidOperationException($"resource graph: id '{resource.Id}' is declared twice");
            }
        }

        foreach (var resource in resources)
        {
            var unknown = resource.DependsOn.FirstOrDefault(d => !byId.ContainsKey(d));
            if (unknown is not null)
            {
                throw new InvalidOperationException($"resource graph: '{resource.Id}' depends on unknown '{unknown}'");
            }
        }

        var ordered = new List<IResource>(resources.Count);
        var state = new Dictionary<string, bool>(StringComparer.Ordinal); // false = visiting, true = done
        void Visit(IResource resource, Stack<string> path)
        {
            if (state.TryGetValue(resource.Id, out var finished))
            {
                if (!finished)
                {
                    var cycle = path.Reverse().SkipWhile(id => id != resource.Id).Append(resource.Id);
                    throw new InvalidOperationException($"resource graph: dependency cycle {string.Join(" -> ", cycle)}");
                }

                return;
            }

            state[resource.Id] = false;
            path.Push(resource.Id);
            foreach (var dependency in resource.DependsOn)
            {
                Visit(byId[dependency], path);
            }

            path.Pop();
            state[resource.Id] = true;
            ordered.Add(resource);
        }

        foreach (var resource in resources)
        {
            Visit(resource, new Stack<string>());
        }

        return ordered;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{ResourceId}: {Status} {Message} ({DurationMs} ms)")]
    private static partial void LogResult(ILogger logger, string resourceId, ResourceStatus status, string message, long durationMs);
}
