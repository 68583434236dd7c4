using Qwen3Next.Cuda;

namespace Qwen3Next.Backends.Ptx;

/// <summary>A decode step captured on the ptx compute stream: the graph and its executable.</summary>
internal sealed class PtxCapturedStep(PtxBackend backend, GraphHandle graph, GraphExecHandle exec) : CapturedStep
{
    private bool disposed;

    public GraphExecHandle Exec => exec;

    public PtxBackend Backend => backend;

    public override void Dispose()
    {
        lock (backend.Access.Gate)
        {
            if (disposed || backend.Access.IsDisposed)
            {
                disposed = true;
                return;
            }

            disposed = true;
            backend.Driver.DestroyGraphExec(exec, "a decode step");
            backend.Driver.DestroyGraph(graph, "a decode step");
        }
    }
}
