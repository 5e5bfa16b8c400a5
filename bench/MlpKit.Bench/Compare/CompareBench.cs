using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using MlpKit.Checkpoints;
using MlpKit.Runtime;
using MlpKit.Training;
using static TorchSharp.torch;

namespace MlpKit.Bench.Compare;

/// <summary>
/// MlpKit against plain PyTorch on the same CPU, interleaved: for each case and thread count both sides build the same
/// model from one safetensors file (their outputs are compared first), then alternate blocks of steps; each side waits
/// on a pipe while the other computes. Reports median step times, the ratio MlpKit / PyTorch, the median of the
/// per-block ratios, thread count and load average.
/// Usage: compare [--cases a,b] [--threads 1,2] [--blocks 5] [--block 3] [--python /usr/bin/python3] [--json FILE]
/// </summary>
public static class CompareBench
{
    public sealed record Row(string Case, int Threads, double MlpKitMs, double TorchMs, double Ratio, double BlockRatio,
        double CheckMaxAbs, double CheckScale, bool Same, int Steps, string Load, string Source, string TorchVersion, string Blas,
        double[]? MlpKitPhasesMs, double[]? TorchPhasesMs);

    static readonly string[] PhaseNames = ["forward+backward", "gradient norm (+ clip)", "update (clip, AdamW, zero grads)"];

    public static int Run(string[] args)
    {
        var a = new BenchArgs(args);
        var caseNames = a.Text("--cases", string.Join(',', CompareCases.All.Select(c => c.Name))).Split(',', StringSplitOptions.RemoveEmptyEntries);
        var threadCounts = a.Text("--threads", "1,2").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        int blocks = a.Int("--blocks", 5), block = a.Int("--block", 3);
        var python = a.Text("--python", "/usr/bin/python3");
        var jsonOut = a.Text("--json", "");
        var unknown = caseNames.Where(n => CompareCases.All.All(c => c.Name != n)).ToList();
        if (unknown.Count > 0)
        {
            Console.Error.WriteLine($"--cases: unknown {string.Join(", ", unknown)}; cases: {string.Join(", ", CompareCases.All.Select(c => c.Name))}");
            return 2;
        }

        TorchRuntime.EnsureInitialized();
        using var reference = new ReferenceProcess(python, Path.Combine("tools", "reference", "reference_bench.py"));
        var rows = new List<Row>();
        foreach (var threads in threadCounts)
            foreach (var name in caseNames)
            {
                var row = RunCase(CompareCases.All.Single(c => c.Name == name), threads, blocks, block, reference);
                rows.Add(row);
                Console.Error.WriteLine($"{row.Case,-15} {row.Threads}t: MlpKit {row.MlpKitMs,8:F1} ms, PyTorch {row.TorchMs,8:F1} ms, ratio {row.Ratio:F3} (per block {row.BlockRatio:F3}), same function: {(row.Same ? "yes" : "NO")} (max |Δ| {row.CheckMaxAbs:G2}), load {row.Load}");
            }

        Console.WriteLine();
        Console.WriteLine($"PyTorch {rows.FirstOrDefault()?.TorchVersion} with {rows.FirstOrDefault()?.Blas}; MlpKit on TorchSharp {typeof(TorchSharp.torch).Assembly.GetName().Version} (MKL vendor dispatch: {MklOnAmd.Status}); {Environment.ProcessorCount} cores");
        Console.WriteLine("| case | threads | MlpKit ms (median) | PyTorch ms (median) | MlpKit / PyTorch | median of per-block ratios | same function (max abs diff / scale) | load avg |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---|---|");
        foreach (var r in rows)
            Console.WriteLine($"| {r.Case} | {r.Threads} | {r.MlpKitMs:F1} | {r.TorchMs:F1} | **{r.Ratio:F3}** | {r.BlockRatio:F3} | {(r.Same ? "yes" : "NO")} ({r.CheckMaxAbs:G2} / {r.CheckScale:G3}) | {r.Load} |");
        if (rows.Any(r => r.MlpKitPhasesMs is not null && r.TorchPhasesMs is not null))
        {
            Console.WriteLine();
            Console.WriteLine("Training steps by phase (medians, ms; PyTorch's gradient norm includes the clipping, MlpKit's update does):");
            Console.WriteLine("| case | threads | phase | MlpKit | PyTorch | ratio |");
            Console.WriteLine("|---|---:|---|---:|---:|---:|");
            foreach (var r in rows.Where(r => r.MlpKitPhasesMs is not null && r.TorchPhasesMs is not null))
                for (var i = 0; i < PhaseNames.Length; i++)
                    Console.WriteLine($"| {r.Case} | {r.Threads} | {PhaseNames[i]} | {r.MlpKitPhasesMs![i]:F1} | {r.TorchPhasesMs![i]:F1} | {r.MlpKitPhasesMs[i] / r.TorchPhasesMs[i]:F2} |");
        }
        if (jsonOut.Length > 0) AtomicFile.WriteAllText(jsonOut, JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true }));
        return rows.All(r => r.Same) ? 0 : 1;
    }

    static Row RunCase(CompareCase c, int threads, int blocks, int block, ReferenceProcess reference)
    {
        TorchRuntime.SetThreads(threads);
        var dir = Directory.CreateTempSubdirectory("mlpkit-compare-").FullName;
        try
        {
            using var scope = NewDisposeScope();
            var prepared = c.Prepare(dir);
            var setup = (JsonObject)prepared.ReferenceConfig.DeepClone();
            setup["op"] = "setup"; setup["case"] = c.Name; setup["dir"] = dir; setup["threads"] = threads;
            var reply = reference.Ask(setup);
            var theirs = reply["check"]!.AsArray().Select(v => (float)v!.GetValue<double>()).ToArray();
            var mine = prepared.Check.to(ScalarType.Float32).reshape(-1).data<float>().ToArray();
            if (theirs.Length != mine.Length) throw new MlpKitException($"{c.Name}: the reference's check output has {theirs.Length} values, MlpKit's {mine.Length}");
            var maxAbs = mine.Zip(theirs, (a, b) => Math.Abs(a - b)).Max();
            var scale = mine.Max(v => Math.Abs(v));
            // float32 with a different operation order: agreement to ~1e-5 of the output's scale is the same function.
            var same = maxAbs <= 1e-4 * Math.Max(1, scale);
            reference.Run(prepared.Warmup);

            var load = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            var mlpkit = new List<double>();
            var torch = new List<double>();
            var blockRatios = new List<double>();
            var done = 0;
            var myPhases = new List<StepPhases>();
            var theirPhases = new List<double[]>();
            var sw = Stopwatch.StartNew();
            prepared.Run(prepared.Warmup + blocks * block, phases =>
            {
                var ms = sw.Elapsed.TotalMilliseconds;
                if (++done > prepared.Warmup)
                {
                    mlpkit.Add(ms);
                    if (phases is not null) myPhases.Add(phases);
                    if (mlpkit.Count % block == 0)
                    {
                        var answer = reference.RunBlock(block);
                        var theirsBlock = answer.Ms;
                        theirPhases.AddRange(answer.Phases);
                        torch.AddRange(theirsBlock);
                        blockRatios.Add(Median(mlpkit.TakeLast(block)) / Median(theirsBlock));
                    }
                }
                Thread.Sleep(5); // the other side's OpenMP workers stop spinning before the next timed step
                sw.Restart();
            });
            load += "→" + File.ReadAllText("/proc/loadavg").Split(' ')[0];
            var m = Median(mlpkit);
            var t = Median(torch);
            return new Row(c.Name, threads, m, t, m / t, Median(blockRatios), maxAbs, scale, same, mlpkit.Count, load,
                prepared.ReferenceConfig["source"]?.GetValue<string>() ?? "", reply["torch"]!.GetValue<string>(), reply["blas"]!.GetValue<string>(),
                myPhases.Count == 0 ? null : [Median(myPhases.Select(p => p.ForwardBackwardMs)), Median(myPhases.Select(p => p.NormMs)), Median(myPhases.Select(p => p.UpdateMs))],
                theirPhases.Count == 0 ? null : [.. Enumerable.Range(0, 3).Select(i => Median(theirPhases.Select(p => p[i])))]);
        }
        finally
        {
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }

    internal static double Median(IEnumerable<double> xs)
    {
        var s = xs.OrderBy(v => v).ToList();
        return s.Count == 0 ? double.NaN : s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }
}
