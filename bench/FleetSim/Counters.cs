namespace OdooFleet.FleetSim;

/// <summary>What the virtual fleet received and answered; read as differences around a phase.</summary>
internal sealed class Counters
{
    private long converge;
    private long stage;
    private long plan;
    private long stale;
    private long rejected;
    private long convergeReports;
    private long stageReports;
    private long rpcErrors;
    private long lastReportTicks;

    public long Converge => Interlocked.Read(ref converge);
    public long Stage => Interlocked.Read(ref stage);
    public long Plan => Interlocked.Read(ref plan);
    public long Stale => Interlocked.Read(ref stale);
    public long Rejected => Interlocked.Read(ref rejected);
    public long ConvergeReports => Interlocked.Read(ref convergeReports);
    public long StageReports => Interlocked.Read(ref stageReports);
    public long RpcErrors => Interlocked.Read(ref rpcErrors);

    /// <summary>When the last report was accepted (Stopwatch timestamp), to tell how long the controller took to notice.</summary>
    public long LastReportTimestamp => Interlocked.Read(ref lastReportTicks);

    public void CountConverge() => Interlocked.Increment(ref converge);
    public void CountStage() => Interlocked.Increment(ref stage);
    public void CountPlan() => Interlocked.Increment(ref plan);
    public void CountStale() => Interlocked.Increment(ref stale);
    public void CountRejected() => Interlocked.Increment(ref rejected);
    public void CountRpcError() => Interlocked.Increment(ref rpcErrors);

    public void CountConvergeReport(long at)
    {
        Interlocked.Increment(ref convergeReports);
        Interlocked.Exchange(ref lastReportTicks, at);
    }

    public void CountStageReport() => Interlocked.Increment(ref stageReports);
}
