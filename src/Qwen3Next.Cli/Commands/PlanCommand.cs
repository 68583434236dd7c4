using System.CommandLine;
using Qwen3Next.Backends;
using Qwen3Next.Checkpoint;
using Qwen3Next.Graph;
using Qwen3Next.Ops.Attention;
using Qwen3Next.Streaming;

namespace Qwen3Next.Cli.Commands;

/// <summary><c>kernels plan</c>: the residency plan for a device-memory budget, from config.json (and the shard
/// index when present, whose tensor names are checked) without loading any weight.</summary>
internal static class PlanCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo?>("--model", "-m") { Description = "Folder with config.json (and optionally model.safetensors.index.json). Default: the embedded tiny model." };
        var memory = new Option<string?>("--device-memory") { Description = "Device-memory budget, e.g. 40GiB (default: everything resident)." };
        var maxTokens = new Option<int>("--max-tokens") { Description = "KV-cache capacity per sequence.", DefaultValueFactory = _ => 4096 }.AtLeast(1);
        var chunk = new Option<int>("--prefill-chunk") { Description = "Largest prefill chunk (tokens per forward pass).", DefaultValueFactory = _ => 512 }.AtLeast(1);
        var hitRate = new Option<double>("--hit-rate") { Description = "Assumed expert-cache hit rate for the decode bound.", DefaultValueFactory = _ => 0.9 }
            .Require(v => v >= 0 && v <= 1, "in [0, 1]");
        var h2d = new Option<double>("--h2d-gbps") { Description = "Pinned host-to-device bandwidth (PCIe Gen5 x16 ≈ 50).", DefaultValueFactory = _ => 50 }.Positive();
        var hbm = new Option<double>("--hbm-gbps") { Description = "Device memory bandwidth (H200 copy ≈ 4300).", DefaultValueFactory = _ => 4300 }.Positive();
        var kernelModel = new Option<FileInfo?>("--kernel-model")
        {
            Description = "Modeled decode kernel times (`kernels profile --scale real --sample-ctas 0 --json`); default: the built-in docs/h200-decode-profile.json.",
        };
        var precision = new Option<string?>("--precision")
        {
            Description = "Size the KV cache for exact (fp32, the default here) or fast (bf16 where the ptx backend's fast kernels cover the head shape).",
        }.Require(v => v is null || PrecisionModes.Names.Contains(v.Trim().ToLowerInvariant()), $"one of {string.Join(", ", PrecisionModes.Names)}");
        var command = new Command("plan", "Print the device residency plan for a model and budget without running it.") { model, memory, maxTokens, chunk, hitRate, h2d, hbm, kernelModel, precision };
        command.SetAction(parse => CommandGuard.Run(parse, () =>
        {
            string folder = parse.GetValue(model)?.FullName ?? CliOptions.DefaultModelFolder;
            var config = ModelConfig.Load(Path.Combine(folder, QwenCheckpoint.ConfigFileName));
            string checkedNames = IndexNames.Check(folder, config);
            long? budget = parse.GetValue(memory) is { } text ? ByteSize.Parse(text) : null;
            var attention = ModelShapes.From(config).Attention;
            bool bf16Cache = CliOptions.PrecisionOf(parse.GetValue(precision)) == Precision.Fast
                && FlashPrefillTensorCoreKernel.Supports(attention.QueryHeads, attention.KeyValueHeads, attention.HeadDim);
            var plan = ResidencyPlan.Create(config, budget, parse.GetValue(maxTokens), parse.GetValue(chunk), kvElement: bf16Cache ? KvElement.BFloat16 : KvElement.Float32);
            var w = plan.Weights;
            double h = parse.GetValue(hitRate);
            Console.WriteLine($"model            {folder} ({config.NumHiddenLayers} layers, {config.NumExperts} experts x {config.NumHiddenLayers}, top-{config.NumExpertsPerTok}); {checkedNames}");
            Console.WriteLine($"weights          {ByteSize.Format(w.TotalBytes)} in all: {ByteSize.Format(w.AlwaysNeededBytes)} always needed, {ByteSize.Format(w.AllExpertBytes)} routed experts ({ByteSize.Format(w.ExpertBytes)} each)");
            Console.WriteLine($"budget           {(budget is null ? "unlimited" : ByteSize.Format(plan.BudgetBytes))}");
            Console.WriteLine(plan.StreamsLayers
                ? $"resident         {ByteSize.Format(plan.ResidentWeightBytes)}: embedding, lm_head and two {ByteSize.Format(plan.StageBytes)} staging buffers; every layer's mixer, router and shared expert stream from pinned host memory, the next layer prefetched on the copy stream (ilgpu backend; ptx refuses a budget below the always-needed weights)"
                : $"resident         {ByteSize.Format(w.AlwaysNeededBytes)} always-needed weights (embedding, lm_head, every layer's mixer, norms, router, shared expert)");
            Console.WriteLine($"state            {ByteSize.Format(plan.StateBytes)} (conv + recurrent states, {(bf16Cache ? "bf16" : "fp32")} KV cache for {parse.GetValue(maxTokens)} tokens)");
            Console.WriteLine($"workspace        {ByteSize.Format(plan.WorkspaceBytes)} (activations for {parse.GetValue(chunk)}-token chunks)");
            Console.WriteLine($"expert cache     {plan.ExpertSlots} slots x {ByteSize.Format(w.ExpertBytes)} = {ByteSize.Format(plan.ExpertCacheBytes)} ({100.0 * plan.ExpertSlots / (config.NumExperts * config.NumHiddenLayers):F1}% of all experts; at least {plan.MinimumSlots} needed){(plan.AllExpertsResident ? ", all resident" : ", CLOCK with use counters on the device (ptx), LRU on the host (ilgpu)")}");
            Console.WriteLine($"per token        {ByteSize.Format(plan.DeviceBytesPerToken)} read from device memory; {ByteSize.Format(plan.HostToDeviceBytesPerToken(h))} copied from host at hit rate {h:P0}");
            var times = parse.GetValue(kernelModel) is { } file
                ? DecodeKernelTimes.FromProfileJson(File.ReadAllText(file.FullName), file.FullName) : DecodeKernelTimes.Embedded;
            var step = DecodeTimeModel.Estimate(config, times);
            double copy = plan.CopySecondsPerToken(h, parse.GetValue(h2d));
            Console.WriteLine($"decode kernels   {step.Total * 1e6:F0} µs per token by the H200 model of the ptx decode kernels: projections {step.Projections * 1e6:F0}, "
                + $"mixer cores {step.Mixers * 1e6:F0} (attention at {times.AttentionContext} cached tokens), MoE blocks {step.Moe * 1e6:F0}, norms and adds {step.NormsAndAdds * 1e6:F0}, "
                + $"lm_head {step.Head * 1e6:F0} (a model from emulator counters, docs/h200-model.md)");
            Console.WriteLine($"copies           {copy * 1e6:F0} µs per token at {parse.GetValue(h2d)} GB/s host-to-device");
            Console.WriteLine($"decode bound     {1 / Math.Max(step.Total, copy):F1} tokens/s with copies overlapping the kernels, {1 / (step.Total + copy):F1} tokens/s "
                + $"with every copy on the critical path; HBM floor of the same reads: {plan.DeviceReadRateBound(parse.GetValue(hbm)):F0} tokens/s at {parse.GetValue(hbm)} GB/s");
            return 0;
        }));
        return command;
    }
}
