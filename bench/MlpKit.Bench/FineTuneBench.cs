using System.Diagnostics;
using System.Globalization;
using MlpKit.Ffn;
using MlpKit.FineTuning;
using MlpKit.Runtime;
using MlpKit.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.Bench;

/// <summary>
/// Memory and speed of the fine-tuning methods on one model and one batch, in one process:
/// trainable parameters, optimizer-state and gradient bytes (from the tensors the method actually holds),
/// the peak RSS while the method's steps run (the kernel's high-water mark is reset before each method),
/// and the median step time. Usage: finetune [--dim 256] [--hidden 1024] [--layers 4] [--batch 16]
/// [--seq 32] [--steps 6] [--density 0.01] [--rank 8] [--threads 0].
/// </summary>
public static class FineTuneBench
{
    /// <summary>Token-level residual MLP stack (transformer-like MLP cost: every token passes every block), mean-pooled.</summary>
    sealed class TokenMlpModel : nn.Module<Tensor, Tensor>
    {
        private Embedding embed;
        private ModuleList<DenseFeedForward> blocks;
        private ModuleList<LayerNorm> norms;
        private Linear head;

        public TokenMlpModel(int vocab, int dim, int hidden, int layers, int classes) : base(nameof(TokenMlpModel))
        {
            embed = nn.Embedding(vocab, dim);
            blocks = new ModuleList<DenseFeedForward>();
            norms = new ModuleList<LayerNorm>();
            for (var i = 0; i < layers; i++)
            {
                blocks.Add(new DenseFeedForward($"blocks.{i}", dim, hidden, dim, FfnActivation.Gelu));
                norms.Add(nn.LayerNorm(dim));
            }
            head = nn.Linear(dim, classes);
            RegisterComponents();
        }

        public override Tensor forward(Tensor tokens)
        {
            var h = embed.call(tokens);
            for (var i = 0; i < blocks.Count; i++) h = norms[i].call(h + blocks[i].call(h));
            return head.call(h.mean([1]));
        }
    }

    sealed class BatchTask(TokenMlpModel model, Tensor tokens, Tensor labels) : ITrainingTask
    {
        public int TrainCount => (int)tokens.shape[0];
        public Tensor Loss(IReadOnlyList<int> indices) => nn.functional.cross_entropy(model.call(tokens), labels);
        public EvalResult Evaluate() => new("none", 0);
    }

    public sealed record Row(string Method, long Trainable, long OptState, long Grad, long MlpOptState, long MlpGrad, long Extra,
        double StartRssMiB, double SetupPeakMiB, double PeakRssMiB, double StepGrowthMiB, double MedianStepMs, double MedianCpuMs);

    public static int Run(string[] args)
    {
        int Arg(string name, int fallback) { var i = Array.IndexOf(args, name); return i >= 0 ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback; }
        double ArgD(string name, double fallback) { var i = Array.IndexOf(args, name); return i >= 0 ? double.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback; }
        int dim = Arg("--dim", 256), hidden = Arg("--hidden", 1024), layers = Arg("--layers", 4), batch = Arg("--batch", 16),
            seq = Arg("--seq", 32), steps = Arg("--steps", 6), rank = Arg("--rank", 8), threads = Arg("--threads", 0);
        var density = ArgD("--density", 0.01);
        TorchRuntime.EnsureInitialized();
        TorchRuntime.SetThreads(threads);
        const int vocab = 4000, classes = 4;
        manual_seed(1);
        var tokens = randint(0, vocab, [batch, seq]);
        var labels = randint(0, classes, [batch]);
        Console.WriteLine($"model: {layers} token-level MLP blocks {dim}->{hidden}->{dim}, batch {batch} x {seq} tokens, {get_num_threads()} threads, {steps} timed steps");

        var methods = new (string Name, Dictionary<string, string>? Options)[]
        {
            ("full", null),
            ("lora", new() { ["rank"] = rank.ToString(CultureInfo.InvariantCulture) }),
            ("meprop", new() { ["keep"] = "0.1" }),
            ("sparsegrad", new() { ["density"] = density.ToString(CultureInfo.InvariantCulture), ["calibration-steps"] = "4" }),
            ("sparsegrad-grid4", new() { ["density"] = density.ToString(CultureInfo.InvariantCulture), ["calibration-steps"] = "4", ["grid"] = "4" }),
        };
        var only = Array.IndexOf(args, "--only") is var oi and >= 0 ? args[oi + 1].Split(',') : null;
        var rows = new List<Row>();
        foreach (var (name, options) in methods)
        {
            if (only is not null && !only.Contains(name)) continue;
            using var scope = NewDisposeScope();
            manual_seed(2);
            var model = new TokenMlpModel(vocab, dim, hidden, layers, classes);
            GC.Collect(); GC.WaitForPendingFinalizers();
            var startRss = RssMiB("VmRSS:");
            ResetPeakRss();
            var times = new List<double>();
            var cpu = new List<double>();
            var proc = Process.GetCurrentProcess();
            var cpuMark = proc.TotalProcessorTime;
            var setupPeak = double.NaN;
            var rssAfterFirst = double.NaN;
            var sw = Stopwatch.StartNew();
            var trainer = new Trainer(model, FineTuneMethods.Create(name.Split('-')[0], options), new BatchTask(model, tokens, labels),
                new TrainerOptions { MaxSteps = steps + 2, BatchSize = batch, LearningRate = 1e-4, Progress = false, WritePlot = false, EvalEvery = 1000 })
            {
                OnStep = s =>
                {
                    times.Add(sw.Elapsed.TotalMilliseconds);
                    proc.Refresh();
                    cpu.Add((proc.TotalProcessorTime - cpuMark).TotalMilliseconds);
                    cpuMark = proc.TotalProcessorTime;
                    // Injection (SparseGrad's calibration) and the first step are over: from here the mark
                    // tracks the steady training step alone.
                    if (s.Step == 1) { setupPeak = RssMiB("VmHWM:"); ResetPeakRss(); rssAfterFirst = RssMiB("VmRSS:"); }
                    sw.Restart();
                },
            };
            sw.Restart();
            proc.Refresh();
            cpuMark = proc.TotalProcessorTime;
            trainer.Run();
            var peak = RssMiB("VmHWM:");
            var fp = trainer.Adapter!.Footprint();
            // The first two steps are warm-up (allocator, first-touch, one-off JIT).
            var timed = times.Skip(2).OrderBy(t => t).ToList();
            rows.Add(new Row(name, fp.TrainableParameters, fp.OptimizerStateBytes, fp.GradientBytes, fp.MlpOptimizerStateBytes, fp.MlpGradientBytes,
                fp.ExtraBytes, startRss, setupPeak, peak, peak - rssAfterFirst, timed[timed.Count / 2], cpu.Skip(2).OrderBy(t => t).ElementAt(timed.Count / 2)));
            if (trainer.Adapter is MlpKit.FineTuning.SparseGrad.SparseGradInjector.SparseGradAdapter sg)
                Console.WriteLine($"{name}: support touches {sg.Layers.Average(l => (double)l.RowIndex.shape[0] / l.U.shape[0]):P0} of rows and {sg.Layers.Average(l => (double)l.ColIndex.shape[0] / l.V.shape[0]):P0} of columns (mean over layers)");
            trainer.Adapter.Dispose();
            model.Dispose();
        }

        Console.WriteLine();
        Console.WriteLine("| method | trainable params | optimizer state | gradients | MLP optimizer state | MLP gradients | method extra (bases, values) | RSS at start | peak RSS setup + step 1 | peak RSS steps 2+ | RSS growth in steps 2+ | median step (wall) | median step (process CPU) |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
            Console.WriteLine($"| {r.Method} | {r.Trainable:N0} | {Mib(r.OptState)} | {Mib(r.Grad)} | {Mib(r.MlpOptState)} | {Mib(r.MlpGrad)} | {Mib(r.Extra)} | {r.StartRssMiB:F0} MiB | {r.SetupPeakMiB:F0} MiB | {r.PeakRssMiB:F0} MiB | {r.StepGrowthMiB:F0} MiB | {r.MedianStepMs:F0} ms | {r.MedianCpuMs:F0} ms |");
        if (!rows.Any(r => r.Method == "full") || !rows.Any(r => r.Method == "lora")) return 0;
        var full = rows.Single(r => r.Method == "full");
        var lora = rows.Single(r => r.Method == "lora");
        Console.WriteLine();
        foreach (var sg in rows.Where(r => r.Method.StartsWith("sparsegrad")))
        {
            var stateRatio = (double)sg.MlpOptState / full.MlpOptState;
            var timeRatio = sg.MedianStepMs / lora.MedianStepMs;
            var cpuRatio = sg.MedianCpuMs / lora.MedianCpuMs;
            Console.WriteLine($"{sg.Method} MLP optimizer state / full: {stateRatio:P2} (target <= 3%: {(stateRatio <= 0.03 ? "met" : "NOT met")})");
            Console.WriteLine($"{sg.Method} step time / lora: wall {timeRatio:F2}x, CPU {cpuRatio:F2}x (target <= 1.5x: {(Math.Max(timeRatio, cpuRatio) <= 1.5 ? "met" : "NOT met")})");
        }
        return 0;
    }

    static string Mib(long bytes) => bytes >= 1 << 20 ? $"{bytes / 1048576.0:F2} MiB" : $"{bytes / 1024.0:F1} KiB";

    /// <summary>Writing 5 to clear_refs resets the kernel's peak-RSS mark (VmHWM) for this process.</summary>
    static void ResetPeakRss()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    internal static double RssMiB(string field)
    {
        try
        {
            var line = File.ReadAllLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(field));
            return line is null ? double.NaN : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException) { return double.NaN; }
    }
}
