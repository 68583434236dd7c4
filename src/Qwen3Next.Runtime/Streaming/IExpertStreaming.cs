namespace Qwen3Next.Streaming;

/// <summary>Routed-expert streaming on a backend, as the CLI and the tests see it: the ILGPU backend's host-driven
/// cache (<see cref="ExpertStreaming"/>) or the ptx backend's device-side cache (<see cref="PtxExpertStreaming"/>).</summary>
public interface IExpertStreaming : IDisposable
{
    /// <summary>Device slots, each holding one routed expert.</summary>
    int Slots { get; }

    /// <summary>What streaming did since the last <see cref="ResetStatistics"/> (on the ptx backend a read of device
    /// counters: the host waits for the device).</summary>
    StreamingStatistics Statistics { get; }

    void ResetStatistics();

    /// <summary>Selections per layer and expert since streaming was enabled, for a later warm start; null where the
    /// backend does not count them.</summary>
    ExpertRoutingCounts? RoutingCounts();
}
