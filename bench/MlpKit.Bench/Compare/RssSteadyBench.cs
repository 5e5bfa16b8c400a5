using MlpKit.FineTuning;
using MlpKit.Runtime;
using MlpKit.Training;
using static TorchSharp.torch;

namespace MlpKit.Bench.Compare;

/// <summary>
/// Resident memory over a long run: MiniLM fine-tuned through MlpKit's Trainer on one fixed batch for --steps steps
/// (default 1,000), RSS sampled every 100 steps; a leak in a step (a tensor outside a dispose scope, an optimizer
/// temporary kept) shows as growth between step 100 and the end. Target: within ±5%.
/// Usage: rss [--methods full,lora] [--steps 1000] [--batch 8] [--seq 64] [--threads 2]
/// </summary>
public static class RssSteadyBench
{
    public static int Run(string[] args)
    {
        var a = new BenchArgs(args);
        int steps = a.Int("--steps", 1000), batch = a.Int("--batch", 8), seq = a.Int("--seq", 64), threads = a.Int("--threads", 2);
        TorchRuntime.EnsureInitialized();
        TorchRuntime.SetThreads(threads);
        var rows = new List<string>();
        var ok = true;
        foreach (var method in a.Text("--methods", "full,lora").Split(','))
        {
            using var scope = NewDisposeScope();
            var (encoder, source) = CompareCases.MiniLm();
            var model = CompareCases.Classifier(encoder);
            var (ids, mask, types) = CompareCases.BertInputs(batch, encoder.TypedConfig.VocabSize, seq);
            var labels = randint(0, 2, [batch], generator: new Generator(12));
            var samples = new SortedDictionary<long, double>();
            var options = method == "full" ? new Dictionary<string, string> { ["train-rest"] = "true" } : [];
            var trainer = new Trainer(model, FineTuneMethods.Create(method, options),
                new CompareCases.FixedBatchTask(batch, () => nn.functional.cross_entropy(model.forward(ids, mask, types), labels)),
                new TrainerOptions { MaxSteps = steps, BatchSize = batch, LearningRate = FineTuneMethods.DefaultLearningRate(FineTuneMethods.Create(method, options)), Progress = false, WritePlot = false, EvalEvery = 1_000_000 })
            {
                OnStep = s =>
                {
                    if (s.Step % 100 != 0) return;
                    samples[s.Step] = FineTuneBench.RssMiB("VmRSS:");
                    Console.Error.WriteLine($"{method} step {s.Step}: RSS {samples[s.Step]:F0} MiB, loss {s.Loss:F4}");
                },
            };
            trainer.Run();
            trainer.Adapter?.Dispose();
            var first = samples.First();
            var last = samples.Last();
            var max = samples.Values.Max();
            var growth = (last.Value - first.Value) / first.Value;
            ok &= Math.Abs(growth) <= 0.05;
            rows.Add($"| {method} | {source} | {batch}x{seq} | {first.Key}: {first.Value:F0} MiB | {last.Key}: {last.Value:F0} MiB | {max:F0} MiB | **{growth:+0.0%;-0.0%}** |");
        }
        Console.WriteLine($"RSS from step 100 to the end ({threads} threads):");
        Console.WriteLine("| method | model | batch | RSS at | RSS at | max sampled | change |");
        Console.WriteLine("|---|---|---|---:|---:|---:|---:|");
        rows.ForEach(Console.WriteLine);
        return ok ? 0 : 1;
    }

}
