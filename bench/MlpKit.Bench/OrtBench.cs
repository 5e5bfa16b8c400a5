using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MlpKit.Assets;
using MlpKit.Compression;
using MlpKit.Onnx;

namespace MlpKit.Bench;

/// <summary>
/// ONNX Runtime latency and throughput of MiniLM's original ONNX file against MlpKit exports of the same
/// model fused to 0.5 and 0.25 of its FFN width (and the unfused export, to separate the exporter's effect
/// from the width's). One process, one ORT session per file, runs interleaved (each repetition runs every
/// file once), medians reported with the ratio to the original.
/// Usage: ort [--threads N] [--reps R] [--seq T] [--batches 1,32] [--method fusion]
/// </summary>
public static class OrtBench
{
    public static int Run(string[] args)
    {
        int threads = Arg(args, "--threads", 1), reps = Arg(args, "--reps", 15), seq = Arg(args, "--seq", 128);
        var batches = ArgS(args, "--batches", "1,32").Split(',').Select(int.Parse).ToArray();
        var method = ArgS(args, "--method", "fusion");
        var asset = AssetStore.EnsureAsset(AssetRegistry.MiniLm);
        var work = Directory.CreateTempSubdirectory("mlpkit-ortbench-").FullName;
        var files = new List<(string Name, string Path)> { ("original (sentence-transformers export)", Path.Combine(asset, "onnx", "model.onnx")) };
        try
        {
            files.Add(("mlpkit export, width 1.0", Export(asset, null, work, method)));
            foreach (var r in new[] { 0.5, 0.25 }) files.Add(($"mlpkit export, {method} {r}", Export(asset, r, work, method)));
            var opts = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
            var sessions = files.Select(f => new InferenceSession(f.Path, opts)).ToArray();
            Console.WriteLine($"ONNX Runtime {OrtEnv.Instance().GetVersionString()}, {threads} intra-op thread(s), sequence {seq}, {reps} interleaved reps, " +
                              $"load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]} (at start)");
            var rng = new Random(7);
            foreach (int b in batches)
            {
                var inputs = Inputs(b, seq, rng);
                foreach (var s in sessions) s.Run(inputs).Dispose(); // warm-up
                var times = sessions.Select(_ => new List<double>()).ToArray();
                for (int rep = 0; rep < reps; rep++)
                    for (int i = 0; i < sessions.Length; i++)
                    {
                        var sw = Stopwatch.StartNew();
                        sessions[i].Run(inputs).Dispose();
                        times[i].Add(sw.Elapsed.TotalMilliseconds);
                    }
                double baseMs = Median(times[0]);
                Console.WriteLine($"\nbatch {b} x {seq} tokens:");
                Console.WriteLine($"  {"model",-42} {"median ms",10} {"sequences/s",12} {"time vs original",17}");
                for (int i = 0; i < sessions.Length; i++)
                {
                    double ms = Median(times[i]);
                    Console.WriteLine($"  {files[i].Name,-42} {ms,10:F2} {b * 1000 / ms,12:F1} {ms / baseMs,17:F3}");
                }
            }
            Console.WriteLine($"\nload average {File.ReadAllText("/proc/loadavg").Split(' ')[0]} (at end)");
            foreach (var s in sessions) s.Dispose();
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
        return 0;
    }

    static string Export(string asset, double? ratio, string work, string method)
    {
        var dir = asset;
        if (ratio is double r)
        {
            dir = Path.Combine(work, $"m{r}");
            CompressRun.Run(new CompressSpec { Model = asset, Method = method, Ratio = r, Out = dir, Examples = new ExampleSources(NtkSamples: 0, HeldoutSamples: 0) }, _ => { });
        }
        var path = Path.Combine(work, $"m{ratio ?? 1.0}.onnx");
        OnnxExportRun.Run(dir, path);
        return path;
    }

    static List<NamedOnnxValue> Inputs(int b, int t, Random rng)
    {
        var ids = new DenseTensor<long>([b, t]);
        var mask = new DenseTensor<long>([b, t]);
        var types = new DenseTensor<long>([b, t]);
        for (int i = 0; i < b; i++)
            for (int j = 0; j < t; j++) { ids[i, j] = j == 0 ? 101 : j == t - 1 ? 102 : rng.Next(1000, 30000); mask[i, j] = 1; }
        return [NamedOnnxValue.CreateFromTensor("input_ids", ids), NamedOnnxValue.CreateFromTensor("attention_mask", mask),
            NamedOnnxValue.CreateFromTensor("token_type_ids", types)];
    }

    static double Median(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    static int Arg(string[] a, string name, int fallback) => Array.IndexOf(a, name) is int i and >= 0 && i + 1 < a.Length ? int.Parse(a[i + 1]) : fallback;
    static string ArgS(string[] a, string name, string fallback) => Array.IndexOf(a, name) is int i and >= 0 && i + 1 < a.Length ? a[i + 1] : fallback;
}
