using System.Diagnostics;
using System.Text.RegularExpressions;
using MlpKit.Ffn;
using MlpKit.Ntk;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.Compression;

/// <summary>Settings of one whole-model compression run.</summary>
public sealed record ModelCompressionOptions
{
    public required ICompressionMethod Method { get; init; }
    /// <summary>Fraction of each block's neurons kept; ignored when <see cref="Hidden"/> is set.</summary>
    public double? Ratio { get; init; }
    /// <summary>Fraction of all selected blocks' neurons kept, distributed by <see cref="WidthBudget"/> (instead of Ratio/Hidden).</summary>
    public double? Budget { get; init; }
    public int? Hidden { get; init; }
    /// <summary>Layer indices to compress (as in "layers.3.mlp"); null = all.</summary>
    public IReadOnlySet<int>? Layers { get; init; }
    public long Seed { get; init; }
    public KMeansOptions KMeans { get; init; } = new();
    public ScaleMode ScaleMode { get; init; } = ScaleMode.Standalone;
    public required ModelBatch Calibration { get; init; }
    /// <summary>Examples the compression never sees, for the held-out output error and cosine; null skips them.</summary>
    public ModelBatch? Heldout { get; init; }
    /// <summary>Examples for the NTK error; null skips it.</summary>
    public ModelBatch? NtkExamples { get; init; }
    public NtkKind NtkKind { get; init; } = NtkKind.Sign;
    /// <summary>Re-fit of each compressed block's output side on the calibration tokens (see <see cref="Compression.Repair"/>).</summary>
    public RepairMode Repair { get; init; } = RepairMode.None;
    /// <summary>
    /// With a repair: each block is compressed and repaired on its inputs as the already-compressed earlier blocks
    /// make them (the model is re-run on the calibration batch before each block), against the original block's
    /// outputs on the original inputs, so later blocks absorb earlier blocks' errors. Off by default: measured
    /// slightly worse than fitting every block on the original activations (docs/fusion-results.md §0).
    /// </summary>
    public bool Sequential { get; init; }
    /// <summary>
    /// With a sequential repair of a post-LN block whose input is also its residual (BERT): the target adds the
    /// drift of the input, so block(x') + x' matches block(x) + x rather than block(x) alone.
    /// </summary>
    public bool ResidualTarget { get; init; }
    public Action<string>? Progress { get; init; }
    /// <summary>A first progress line (what is compressed, with which examples), shown once the widths are known to be valid.</summary>
    public string? Header { get; init; }
}

/// <summary>
/// Compresses the selected feed-forward blocks of a model in place and measures what changed: per block, the
/// relative output error on the block's own calibration inputs (captured from the original model) and its share
/// of the NTK; for the model, the relative error of its per-example representation and of the full NTK.
/// </summary>
public static class ModelCompressor
{
    static readonly Regex LayerIndex = new(@"(?:^|\.)layers\.(\d+)\.", RegexOptions.Compiled);

    public static int? LayerOf(string blockName) =>
        LayerIndex.Match(blockName) is { Success: true } m ? int.Parse(m.Groups[1].Value) : null;

    public static IReadOnlyList<IFeedForward> Select(CompressibleModel model, IReadOnlySet<int>? layers)
    {
        var all = model.Blocks;
        if (layers is null) return all;
        var known = all.Select(b => LayerOf(b.Name)).Where(i => i is not null).Select(i => i!.Value).ToHashSet();
        foreach (var l in layers)
            if (!known.Contains(l))
                throw new MlpKitException($"--layers {l}: the model has no feed-forward block in layer {l} (layers {string.Join(",", known.Order())})");
        return all.Where(b => LayerOf(b.Name) is int i && layers.Contains(i)).ToList();
    }

    /// <summary>Result of a run: the report and, for fused blocks, the frozen cluster sizes by block name.</summary>
    public sealed record Result(CompressionReport Report, Dictionary<string, Tensor> Scales);

    /// <summary>The model's output for many examples, 32 at a time (held-out sets can be larger than one batch should be).</summary>
    static Tensor RepresentInBatches(CompressibleModel model, ModelBatch all)
    {
        var parts = new List<Tensor>();
        for (int start = 0; start < all.Count; start += 32)
            parts.Add(model.Represent(model.Slice(all, start, Math.Min(32, all.Count - start))).detach());
        return cat(parts, 0);
    }

    /// <summary>NaN or Inf in a block's weights would poison k-means, the fits and every metric: one line naming the block and tensor.</summary>
    static void CheckFinite(IFeedForward block)
    {
        var w = block.GetWeights();
        foreach (var (name, t) in new[] { ("up.weight", w.Up), ("up.bias", w.UpBias), ("gate.weight", w.Gate), ("down.weight", w.Down), ("down.bias", w.DownBias) })
        {
            if (t is null) continue;
            using var ok = t.isfinite().all();
            if (!ok.item<bool>()) throw MlpKitException.Field(block.Name, name, "holds NaN or Inf values; the checkpoint is damaged (or training diverged), so it cannot be compressed");
        }
    }

    public static Result Run(CompressibleModel model, ModelCompressionOptions o)
    {
        var total = Stopwatch.StartNew();
        var blocks = Select(model, o.Layers);
        // Reject impossible widths before any work (and before any progress line).
        long budgetTotal = o.Budget is double bud ? WidthBudget.Total(bud, blocks.Select(b => b.HiddenDim).ToList()) : 0;
        var widths = o.Budget is null ? blocks.ToDictionary(b => b, b => Width(b, o)) : null;
        foreach (var b in blocks) CheckFinite(b);
        if (o.Header is not null) o.Progress?.Invoke(o.Header);
        using var scope = NewDisposeScope();

        // 1. Original model: outputs and every selected block's inputs on the calibration examples.
        Tensor y0;
        Tensor? h0 = null;
        Dictionary<IFeedForward, Tensor> inputs;
        using (no_grad())
        {
            inputs = CaptureInputs(model, blocks, o.Calibration, out y0);
            if (o.Heldout is { } held) h0 = RepresentInBatches(model, held);
        }

        if (o.Budget is double budget)
        {
            var costs = new List<double[]>();
            foreach (var b in blocks)
            {
                var sched = Stopwatch.StartNew();
                int removable = (int)b.HiddenDim - WidthBudget.Floor(budget, b.HiddenDim);
                using (no_grad()) costs.Add(ObsPruneMethod.RemovalSchedule(b.GetWeights(), inputs[b], removable, b.Name).RelativeCost);
                o.Progress?.Invoke($"{b.Name}: sensitivity measured ({removable} removals), {sched.Elapsed.TotalSeconds:F2} s");
            }
            var alloc = WidthBudget.Allocate(blocks.Select(b => b.HiddenDim).ToList(), costs, budgetTotal);
            widths = blocks.Select((b, i) => (b, i)).ToDictionary(t => t.b, t => alloc[t.i]);
            o.Progress?.Invoke($"budget {budget}: {budgetTotal} of {blocks.Sum(b => b.HiddenDim)} neurons; widths {string.Join(", ", alloc)}");
        }

        // 2. Original kernel, split by block.
        var ntkBlocks = blocks.Where(b => !IsExpert(b)).ToList();
        IReadOnlyList<Tensor>? k0 = o.NtkExamples is null || ntkBlocks.Count == 0 ? null
            : MeasureNtk(model, ntkBlocks, null, o.NtkExamples, o.Seed, o.NtkKind);

        // 3. Compress block by block.
        var layers = new List<LayerReport>();
        var scales = new Dictionary<string, Tensor>();
        foreach (var (b, idx) in blocks.Select((b, i) => (b, i)))
        {
            var sw = Stopwatch.StartNew();
            var w = b.GetWeights();
            long before = w.HiddenDim;   // SetWeights below replaces (and frees) the live tensors w points to
            int c = widths![b];
            var xOrig = inputs[b];
            var x = xOrig;
            CompressedFeedForward r;
            double outErr;
            using (no_grad())
            {
                // Sequential repair: this block's inputs as the blocks compressed so far make them.
                if (o.Repair != RepairMode.None && o.Sequential && idx > 0 && !IsExpert(b))
                    x = CaptureInputs(model, [b], o.Calibration, out _)[b];
                var ctx = new CompressionContext { Seed = o.Seed + idx, Calibration = x, KMeans = o.KMeans, ScaleMode = o.ScaleMode, Where = b.Name };
                var yRef = w.Forward(xOrig);
                r = o.Method.Compress(w, c, ctx);
                if (o.Repair != RepairMode.None)
                {
                    var target = o.ResidualTarget && !ReferenceEquals(x, xOrig) && w.InputDim == w.OutputDim ? yRef + (xOrig - x) : yRef;
                    r = Repair.Apply(r, x, target, o.Repair, b.Name);
                }
                outErr = RelErr(r.Forward(xOrig.to(r.Weights.Up.dtype)), yRef);
                b.SetWeights(r.Folded());
            }
            if (r.HiddenScale is not null) scales[b.Name] = r.HiddenScale.detach().clone().DetachFromDisposeScope();
            sw.Stop();
            layers.Add(new LayerReport(b.Name, before, r.HiddenDim, outErr, null, sw.Elapsed.TotalSeconds));
            o.Progress?.Invoke($"{b.Name}: {before} -> {r.HiddenDim} neurons, output error {outErr:G4}, {sw.Elapsed.TotalSeconds:F2} s ({idx + 1}/{blocks.Count})");
        }

        // 4. Compressed model: representation error and kernel error, per block and in total.
        double modelOut;
        double? heldErr = null, heldCos = null;
        using (no_grad())
        {
            modelOut = RelErr(model.Represent(o.Calibration), y0);
            if (h0 is not null)
            {
                var h1 = RepresentInBatches(model, o.Heldout!);
                heldErr = RelErr(h1, h0);
                heldCos = nn.functional.cosine_similarity(h1.to(ScalarType.Float64), h0.to(ScalarType.Float64), 1).mean().ToDouble();
            }
        }
        double? ntkRel = null, ntkAbs = null;
        if (k0 is not null)
        {
            var k1 = MeasureNtk(model, ntkBlocks, scales, o.NtkExamples!, o.Seed, o.NtkKind);
            for (int i = 0; i < layers.Count; i++)
            {
                int j = ntkBlocks.IndexOf(blocks[i]);
                if (j >= 0) layers[i] = layers[i] with { NtkError = NtkDistance.Relative(k1[j], k0[j]) };
            }
            var sum0 = k0.Aggregate((a, b) => a + b);
            var sum1 = k1.Aggregate((a, b) => a + b);
            ntkRel = NtkDistance.Relative(sum1, sum0);
            ntkAbs = NtkDistance.Absolute(sum1, sum0);
        }

        var report = new CompressionReport
        {
            Model = model.Source,
            Method = o.Method.Name,
            Ratio = o.Hidden is null && o.Budget is null ? o.Ratio : null,
            Budget = o.Budget,
            Hidden = o.Hidden,
            Seed = o.Seed,
            Layers = layers,
            Output = model.OutputKind,
            OutputError = modelOut,
            HeldoutError = heldErr,
            HeldoutCosine = heldCos,
            HeldoutExamples = o.Heldout?.Count ?? 0,
            NtkError = ntkRel,
            NtkErrorAbsolute = ntkAbs,
            NtkKind = o.NtkKind == NtkKind.Sign ? "sign" : "sgd",
            NtkSamples = o.NtkExamples?.Count ?? 0,
            CalibrationExamples = o.Calibration.Count,
            Seconds = total.Elapsed.TotalSeconds,
        };
        return new Result(report, scales);
    }

    static int Width(IFeedForward b, ModelCompressionOptions o) =>
        o.Hidden is int h ? TargetWidth.Check(h, b.HiddenDim, $"--hidden {h} for {b.Name}") : TargetWidth.FromRatio(o.Ratio ?? 0, b.HiddenDim);

    static bool IsExpert(IFeedForward b) => b.Name.Contains(".experts.", StringComparison.Ordinal);

    static double RelErr(Tensor a, Tensor reference)
    {
        using var s = NewDisposeScope();
        var r = reference.to(ScalarType.Float64);
        double denom = r.square().sum().sqrt().ToDouble();
        double num = (a.to(ScalarType.Float64) - r).square().sum().sqrt().ToDouble();
        return denom == 0 ? (num == 0 ? 0 : double.PositiveInfinity) : num / denom;
    }

    /// <summary>
    /// Inputs of each block's up projection during one forward pass, as [tokens, in] with padding removed when the
    /// block saw the whole [batch, seq, in] tensor (dense blocks); experts see their routed tokens only.
    /// </summary>
    static Dictionary<IFeedForward, Tensor> CaptureInputs(CompressibleModel model, IReadOnlyList<IFeedForward> blocks, ModelBatch batch, out Tensor output)
    {
        var seen = blocks.ToDictionary(b => b, _ => new List<Tensor>());
        var removers = new List<Action>();
        try
        {
            foreach (var b in blocks)
            {
                var up = UpLinear(b);
                var list = seen[b];
                var rm = up.register_forward_hook((_, input, outp) => { list.Add(input.detach().clone().DetachFromDisposeScope()); return outp; });
                removers.Add(rm.remove);
            }
            output = model.Represent(batch).detach();
        }
        finally
        {
            foreach (var r in removers) r();
        }
        var valid = batch.Mask.to(ScalarType.Bool);
        var result = new Dictionary<IFeedForward, Tensor>();
        foreach (var b in blocks)
        {
            var parts = seen[b].Select(t => t.dim() == 3 && t.shape[0] == valid.shape[0] && t.shape[1] == valid.shape[1]
                ? t[valid] : t.reshape(-1, t.shape[^1])).ToList();
            if (parts.Count == 0 || parts.Sum(p => p.shape[0]) == 0)
                throw new MlpKitException($"{b.Name}: no calibration token reached this block (for an expert: the router sent it none; use more calibration data)");
            result[b] = cat(parts, 0);
        }
        return result;
    }

    static Linear UpLinear(IFeedForward b)
    {
        if (b is nn.Module m && m.named_children().FirstOrDefault(c => c.name == "up").module is Linear up) return up;
        throw new MlpKitException($"{b.Name}: not a DenseFeedForward module; cannot observe its inputs");
    }

    /// <summary>
    /// Kernel of f(x) = softmax(head · r(x))[0], r the model's representation and head a freshly initialised 2-class
    /// linear layer (seeded, N(0, 0.02²)): the reference code measures the NTK at the start of fine-tuning, with a new
    /// classifier. Split per block; fused blocks are measured with their counts as a standalone scale.
    /// </summary>
    public static IReadOnlyList<Tensor> MeasureNtk(CompressibleModel model, IReadOnlyList<IFeedForward> blocks,
        IReadOnlyDictionary<string, Tensor>? scales, ModelBatch examples, long seed, NtkKind kind)
    {
        var taps = new List<FfnTap>();
        try
        {
            foreach (var b in blocks)
            {
                Tensor? s = null;
                scales?.TryGetValue(b.Name, out s);
                taps.Add(FfnTap.Attach(b, s));
            }
            foreach (var t in taps) foreach (var p in t.Parameters) p.requires_grad_(true);
            var head = Head(model, examples, seed);
            return NtkMeter.KernelPerTap(() =>
            {
                var r = model.Represent(examples);
                return nn.functional.softmax(r.matmul(head.to(r.dtype).t()), 1)[.., 0];
            }, taps, kind);
        }
        finally
        {
            foreach (var t in taps) t.Dispose();
        }
    }

    static Tensor Head(CompressibleModel model, ModelBatch examples, long seed)
    {
        long dim;
        using (no_grad()) dim = model.Represent(model.Slice(examples, 0, 1)).shape[^1];
        return randn(new long[] { 2, dim }, generator: new Generator((ulong)seed + 7919UL)) * 0.02;
    }
}
