using System.Diagnostics;
using MlpKit.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MlpKit.Ffn.Variants;

/// <summary>One row of the σ-MoE vs param-equal dense speed comparison.</summary>
public sealed record MoeSpeedRow(
    long NExperts, long ExpertSize, long K, long DenseDFf, long Tokens, long DModel,
    double DenseMs, double MoeMs, double RatioVsDense,
    double DenseMinMs, double MoeMinMs, double RatioVsDenseMin, double RatioPairedMedian,
    double DenseMacsPerToken, double MoeMacsPerToken, double MacRatio,
    long DenseParams, long MoeParams, double DensePeakMiB, double MoePeakMiB, string Kernel, double PaddingOverhead, int Threads);

/// <summary>
/// Forward+backward wall-clock of σ-MoE against the parameter-equal dense FFN, in one process, the way the
/// paper's benchmark does it (d_model 512, G 128, K 4). Times are medians over the timed repetitions after
/// warm-up; peak memory is the rise of the process RSS high-water mark during a dedicated pass.
/// </summary>
public static class MoeSpeedBenchmark
{
    public static IReadOnlyList<MoeSpeedRow> Run(IReadOnlyList<long> experts, long dModel = 512, long expertSize = 128,
        long k = 4, long tokens = 4096, int warmup = 2, int reps = 5, MoeKernelMode mode = MoeKernelMode.Auto, Action<string>? log = null)
    {
        TorchRuntime.EnsureInitialized();
        var rows = new List<MoeSpeedRow>();
        foreach (var ne in experts)
        {
            using var scope = NewDisposeScope();
            manual_seed(1234);
            var dff = ParamEqual.DenseDFfForMoe(dModel, ne, expertSize);
            var dense = new DenseVariant(new DenseConfig(dModel, dff));
            var moe = new MoeFeedForward(MoeConfig.SigmaMoe(dModel, ne, expertSize, k)) { KernelMode = mode };
            dense.train(); moe.train();
            var x = randn(tokens, dModel);
            var gy = randn(tokens, dModel);
            // Auto first times both expert paths on a few calls; those calls are warm-up, not timed repetitions.
            for (int i = 0; i < 6 * moe.KernelTuner.SamplesPerKernel && mode == MoeKernelMode.Auto && !moe.KernelTuner.Settled; i++)
                OneStep(moe, x, gy);

            // Dense and MoE steps alternate so that load from other processes hits both alike; the ratio is taken
            // both from medians and from the fastest repetition (the closest to an unloaded machine).
            var denseTimes = new List<double>();
            var moeTimes = new List<double>();
            // Each MoE step is timed right after a dense step; the median of those adjacent ratios is the figure
            // least moved by load from other processes.
            var pairRatios = new List<double>();
            for (int i = 0; i < warmup + reps; i++)
            {
                var td = TimeStep(dense, x, gy);
                var tm = TimeStep(moe, x, gy);
                if (i >= warmup) { denseTimes.Add(td); moeTimes.Add(tm); pairRatios.Add(tm / td); }
            }
            pairRatios.Sort();
            denseTimes.Sort();
            moeTimes.Sort();
            var denseMs = denseTimes[denseTimes.Count / 2];
            var moeMs = moeTimes[moeTimes.Count / 2];
            var denseMin = denseTimes[0];
            var moeMin = moeTimes[0];
            var moePeak = PeakRise(() => OneStep(moe, x, gy));
            var densePeak = PeakRise(() => OneStep(dense, x, gy));
            var row = new MoeSpeedRow(ne, expertSize, k, dff, tokens, dModel, denseMs, moeMs, moeMs / denseMs,
                denseMin, moeMin, moeMin / denseMin, pairRatios[pairRatios.Count / 2],
                dense.MacsPerToken, moe.MacsPerToken, (double)moe.MacsPerToken / dense.MacsPerToken,
                dense.ParameterCount, moe.ParameterCount, densePeak, moePeak, moe.LastKernel.ToString(), moe.LastPaddingOverhead, torch.get_num_threads());
            log?.Invoke($"N_E={ne,3} dense d_ff={dff,5}: dense {denseMs,8:F1} ms, σ-MoE {moeMs,8:F1} ms, ratio {row.RatioVsDense:F3} (min {denseMin,8:F1} / {moeMin,8:F1} → {row.RatioVsDenseMin:F3}) (MACs {row.MacRatio:F3}), peak MiB dense {densePeak:F0} moe {moePeak:F0}");
            rows.Add(row);
        }
        return rows;
    }

    static double TimeStep(FeedForwardVariant m, Tensor x, Tensor gy)
    {
        using var s = NewDisposeScope();
        var xi = x.detach().requires_grad_(true);
        var sw = Stopwatch.StartNew();
        var loss = (m.forward(xi) * gy).sum() + m.AuxLoss;
        loss.backward();
        sw.Stop();
        foreach (var p in m.parameters()) p.grad = null;
        return sw.Elapsed.TotalMilliseconds;
    }

    static void OneStep(FeedForwardVariant m, Tensor x, Tensor gy)
    {
        using var s = NewDisposeScope();
        var xi = x.detach().requires_grad_(true);
        var loss = (m.forward(xi) * gy).sum() + m.AuxLoss;
        loss.backward();
        foreach (var p in m.parameters()) p.grad = null;
    }

    /// <summary>
    /// Rise of the resident-set high-water mark over one step, in MiB. The kernel's VmHWM is reset first
    /// (writing 5 to /proc/self/clear_refs) so each measurement starts from the current RSS; where that is not
    /// allowed the figure is the rise over the previous high-water mark and may read 0.
    /// </summary>
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);

    static double PeakRise(Action step)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        // Hand freed heap pages back first, or the step would reuse memory already resident and read as free.
        if (OperatingSystem.IsLinux()) try { MallocTrim(0); } catch (DllNotFoundException) { } catch (EntryPointNotFoundException) { }
        try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        var before = ReadStatusKb("VmRSS");
        step();
        var hwm = ReadStatusKb("VmHWM");
        return Math.Max(0, hwm - before) / 1024.0;
    }

    static long ReadStatusKb(string key)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(key + ":", StringComparison.Ordinal))
                    return long.Parse(line[(key.Length + 1)..].Trim().Split(' ')[0]);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return 0;
    }
}
