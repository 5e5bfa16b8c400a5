using System.Diagnostics;
using MlpKit.Compression;
using MlpKit.Runtime;

namespace MlpKit.Bench;

/// <summary>
/// Wall time of compressing every FFN of a real model with a method (default: the recommended one), without the
/// NTK and held-out evaluation, medians over repetitions in one process.
/// Usage: compress [--model minilm] [--method prune-obs] [--ratio 0.5] [--reps 3] [--threads 2]
/// </summary>
public static class CompressBench
{
    public static int Run(string[] args)
    {
        string Arg(string name, string fallback) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        var model = Arg("--model", "minilm");
        var method = Arg("--method", CompressionMethods.Recommended);
        double ratio = double.Parse(Arg("--ratio", "0.5"), System.Globalization.CultureInfo.InvariantCulture);
        int reps = int.Parse(Arg("--reps", "3")), threads = int.Parse(Arg("--threads", "2"));
        TorchRuntime.EnsureInitialized();
        TorchSharp.torch.set_num_threads(threads);
        var times = new List<double>();
        for (int r = 0; r < reps; r++)
        {
            using var m = CompressibleModel.Load(model);
            var ex = CompressionExamples.Build(m, new ExampleSources(NtkSamples: 0, HeldoutSamples: 0));
            var sw = Stopwatch.StartNew();
            var res = ModelCompressor.Run(m, new ModelCompressionOptions { Method = CompressionMethods.Get(method), Ratio = ratio, Calibration = ex.Calibration, Seed = 42 });
            times.Add(sw.Elapsed.TotalSeconds);
            Console.WriteLine($"rep {r + 1}: {res.Report.Layers.Count} blocks in {sw.Elapsed.TotalSeconds:F1} s " +
                              $"(blocks alone {res.Report.Layers.Sum(l => l.Seconds):F1} s; calibration capture and output check the rest)");
        }
        var sorted = times.Order().ToArray();
        Console.WriteLine($"{model}, {method}, ratio {ratio}, {threads} threads, 256 calibration sentences: median {sorted[sorted.Length / 2]:F1} s " +
                          $"(load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]})");
        return 0;
    }
}
