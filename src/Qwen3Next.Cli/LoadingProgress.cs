using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;
using Qwen3Next.Graph;
using Spectre.Console;

namespace Qwen3Next.Cli;

/// <summary>Loads a model with a progress bar per layer on an interactive terminal (the 80B model takes minutes to
/// copy into pinned host and device memory); silently when output is redirected.</summary>
internal static class LoadingProgress
{
    public static Qwen3NextModel Load(IKernelBackend backend, QwenCheckpoint checkpoint)
    {
        if (Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive)
        {
            return Qwen3NextModel.Load(backend, checkpoint);
        }

        Qwen3NextModel? model = null;
        AnsiConsole.Progress().Start(context =>
        {
            var task = context.AddTask($"loading {checkpoint.Config.NumHiddenLayers} layers ({checkpoint.TotalBytes / (1 << 20):N0} MiB)", maxValue: checkpoint.Config.NumHiddenLayers);
            model = Qwen3NextModel.Load(backend, checkpoint, new InlineProgress(layers => task.Value = layers));
        });
        return model!;
    }

    /// <summary>Reports on the loading thread (Progress&lt;T&gt; would post to the thread pool and lag behind).</summary>
    private sealed class InlineProgress(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }
}
