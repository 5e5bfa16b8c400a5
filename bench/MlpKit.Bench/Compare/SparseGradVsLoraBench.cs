using System.Diagnostics;
using MlpKit.FineTuning;
using MlpKit.Models;
using MlpKit.Models.Bert;
using MlpKit.Runtime;
using MlpKit.Training;
using static TorchSharp.torch;

namespace MlpKit.Bench.Compare;

/// <summary>
/// SparseGrad's training step against LoRA's on a BERT-base-shaped encoder (12 layers, 768, 3072, random weights from
/// init), both through MlpKit's Trainer on one fixed batch, interleaved: each method runs on its own thread (each sets
/// its own intra-op thread count) and they take turns by blocks of steps, so load from other processes hits both alike.
/// Usage: sparsegrad-lora [--threads 2] [--blocks 3] [--block 2] [--batch 16] [--seq 128] [--layers 12] [--density 0.01]
/// </summary>
public static class SparseGradVsLoraBench
{
    public static int Run(string[] args)
    {
        var a = new BenchArgs(args);
        int threads = a.Int("--threads", 2), blocks = a.Int("--blocks", 3), block = a.Int("--block", 2), batch = a.Int("--batch", 16),
            seq = a.Int("--seq", 128), layers = a.Int("--layers", 12);
        var density = a.Text("--density", "0.01");
        TorchRuntime.EnsureInitialized();
        Console.Error.WriteLine($"BERT-base shape ({layers} x 768, FFN 3072), batch {batch} x {seq}, {threads} threads, {blocks} blocks of {block} steps after 2 warm-up steps; MKL vendor dispatch: {MklOnAmd.Status}");
        var lora = new Side("lora", new() { ["rank"] = "8" }, 8e-3, threads, batch, seq, layers, block);
        var sparse = new Side("sparsegrad", new() { ["density"] = density, ["calibration-steps"] = "2" }, 3.2e-2, threads, batch, seq, layers, block);
        var ratios = new List<double>();
        var load = File.ReadAllText("/proc/loadavg").Split(' ')[0];
        for (var b = 0; b < blocks; b++)
        {
            var l = lora.RunBlock();
            var s = sparse.RunBlock();
            ratios.Add(CompareBench.Median(s) / CompareBench.Median(l));
            Console.Error.WriteLine($"block {b + 1}: lora {CompareBench.Median(l):F0} ms, sparsegrad {CompareBench.Median(s):F0} ms, ratio {ratios[^1]:F3}");
        }
        load += "→" + File.ReadAllText("/proc/loadavg").Split(' ')[0];
        lora.Dispose();
        sparse.Dispose();   // ends its training thread, which then reads the support it trained
        var lm = CompareBench.Median(lora.Times); var sm = CompareBench.Median(sparse.Times);
        Console.WriteLine($"| shape | batch | threads | LoRA ms (median) | SparseGrad ms (median) | SparseGrad / LoRA | median of per-block ratios | load |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---|");
        Console.WriteLine($"| BERT-base ({layers}x768, 3072) | {batch}x{seq} | {threads} | {lm:F0} | {sm:F0} | **{sm / lm:F3}** | {CompareBench.Median(ratios):F3} | {load} |");
        if (sparse.Support is { } sup) Console.WriteLine($"SparseGrad support (mean over layers): {sup}");
        return 0;
    }

    /// <summary>One method's trainer on its own thread, stepping a block at a time when told.</summary>
    sealed class Side : IDisposable
    {
        const int Warmup = 2;
        readonly SemaphoreSlim _go = new(0), _done = new(0);
        readonly Thread _thread;
        readonly int _block;
        readonly List<double> _times = [];
        Exception? _error;
        public IReadOnlyList<double> Times => _times;
        public string? Support { get; private set; }

        public Side(string method, Dictionary<string, string> options, double lr, int threads, int batch, int seq, int layers, int block)
        {
            _block = block;
            _thread = new Thread(() =>
            {
                try
                {
                    // OpenMP's thread count is per calling thread: set it on this one.
                    TorchRuntime.SetThreads(threads);
                    using var scope = NewDisposeScope();
                    var encoder = (BertModel)ModelZoo.Create(BertConfigHf.Create(false, 30522, 768, layers, 12, 3072, 512, 0), seed: 7);
                    var model = CompareCases.Classifier(encoder);
                    var (ids, mask, types) = CompareCases.BertInputs(batch, 30522, seq);
                    var labels = randint(0, 2, [batch], generator: new TorchSharp.torch.Generator(12));
                    var steps = 0;
                    var sw = new Stopwatch();
                    _go.Wait();
                    sw.Start();
                    var trainer = new Trainer(model, FineTuneMethods.Create(method, options),
                        new CompareCases.FixedBatchTask(batch, () => nn.functional.cross_entropy(model.forward(ids, mask, types), labels)),
                        new TrainerOptions { MaxSteps = long.MaxValue / 2, BatchSize = batch, LearningRate = lr, Progress = false, WritePlot = false, EvalEvery = 1_000_000 })
                    {
                        OnStep = _ =>
                        {
                            var ms = sw.Elapsed.TotalMilliseconds;
                            if (++steps > Warmup) _times.Add(ms);
                            if (steps > Warmup && (steps - Warmup) % _block == 0)
                            {
                                _done.Release();
                                _go.Wait();
                                if (_stop) throw new OperationCanceledException();
                            }
                            sw.Restart();
                        },
                    };
                    try { trainer.Run(); }
                    catch (OperationCanceledException) { }
                    if (trainer.Adapter is FineTuning.SparseGrad.SparseGradInjector.SparseGradAdapter sg)
                        Support = $"{sg.Layers.Average(l => (double)l.RowIndex.shape[0] / l.U.shape[0]):P0} of rows, {sg.Layers.Average(l => (double)l.ColIndex.shape[0] / l.V.shape[0]):P0} of columns";
                }
                catch (Exception e) { _error = e; }
                finally { _done.Release(); }
            }, 256 << 20) { IsBackground = true };
            _thread.Start();
        }

        volatile bool _stop;

        public IReadOnlyList<double> RunBlock()
        {
            var before = _times.Count;
            _go.Release();
            _done.Wait();
            if (_error is not null) throw new InvalidOperationException("training side failed", _error);
            return _times.Skip(before).ToList();
        }

        public void Dispose()
        {
            _stop = true;
            _go.Release();
            _thread.Join();
        }
    }
}
