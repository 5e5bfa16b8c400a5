using System.Diagnostics;
using MlpKit.Compression;
using MlpKit.Data;
using MlpKit.Models;
using static TorchSharp.torch;

namespace MlpKit.Ntk;

/// <summary>Settings of `mlpkit ntk`.</summary>
public sealed record NtkSpec
{
    public required string Model { get; init; }
    public string? Reference { get; init; }
    /// <summary>Examples file; null = built-in text (models with a tokenizer) or random ids.</summary>
    public string? Data { get; init; }
    public int Samples { get; init; } = 32;
    public IReadOnlySet<int>? Layers { get; init; }
    public NtkKind Kind { get; init; } = NtkKind.Sign;
    /// <summary>Every parameter (one backward pass per example) instead of the MLP fast path.</summary>
    public bool AllParameters { get; init; }
    public ExampleFormat Format { get; init; } = ExampleFormat.Auto;
    public long Seed { get; init; }
}

/// <summary>One measured kernel.</summary>
public sealed record NtkMeasurement(string Model, Tensor Kernel, int Blocks, double Seconds);

/// <summary>
/// `mlpkit ntk`: the empirical NTK of f(x) = softmax(head·r(x))[0] (fresh seeded 2-class head, as at the start
/// of fine-tuning) w.r.t. the MLP parameters (or all), and its relative Frobenius distance to a reference
/// model's. Fused checkpoints are measured with their cluster sizes as a standalone frozen scale.
/// </summary>
public static class NtkRun
{
    public static NtkMeasurement Measure(NtkSpec s, string spec)
    {
        if (s.Samples < 1) throw new MlpKitException($"--samples {s.Samples}: must be at least 1");
        if (s.Data is { } f && !File.Exists(f)) throw new MlpKitException($"{f}: file not found");
        var sw = Stopwatch.StartNew();
        using var m = CompressibleModel.Load(spec);
        ModelBatch batch = s.Data is { } file ? m.MakeBatch(TextLines.Read(file, s.Samples), file, s.Format)
            : m.TakesText && s.Format != ExampleFormat.Ids ? m.MakeBatch(CalibrationText.Sentences(DataSplit.Train, s.Samples, s.Seed), "built-in text", ExampleFormat.Text)
            : m.RandomBatch(s.Samples, 32, s.Seed);
        var blocks = ModelCompressor.Select(m, s.Layers).Where(b => !b.Name.Contains(".experts.")).ToList();
        Tensor k;
        using (var scope = NewDisposeScope())
        {
            if (s.AllParameters)
            {
                var ps = m.Module.parameters().Where(p => p.requires_grad).ToList();
                var head = randn(new long[] { 2, m.Represent(m.Slice(batch, 0, 1)).shape[^1] }, generator: new Generator((ulong)s.Seed + 7919UL)) * 0.02;
                k = NtkMeter.KernelBruteForce(() => nn.functional.softmax(m.Represent(batch).matmul(head.t()), 1)[.., 0], ps, s.Kind);
            }
            else
            {
                var dir = ModelSource.DirectoryOrNull(spec);
                var scales = dir is null ? new Dictionary<string, Tensor>() : FusionCounts.Load(dir);
                k = ModelCompressor.MeasureNtk(m, blocks, scales, batch, s.Seed, s.Kind).Aggregate((a, b) => a + b);
            }
            k = k.detach().MoveToOuterDisposeScope();
        }
        return new NtkMeasurement(spec, k, s.AllParameters ? 0 : blocks.Count, sw.Elapsed.TotalSeconds);
    }
}
