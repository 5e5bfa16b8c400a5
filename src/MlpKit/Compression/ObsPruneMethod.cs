using MlpKit.Ffn;
using TorchSharp;
using static TorchSharp.torch;

namespace MlpKit.Compression;

/// <summary>
/// <c>prune-obs</c>: structured pruning chosen for the least-squares repair that follows it, in the spirit of
/// Optimal Brain Surgeon applied to whole neurons. With the calibration activations H [N, p] (plus a ones column
/// for the bias) and the block's own outputs Y, the output side is the ridge solution Θ = G⁻¹AᵀY, G = AᵀA + λI;
/// removing neuron j and re-fitting the others raises the squared error by ‖Θ_j‖² / (G⁻¹)_jj. Neurons are
/// removed one at a time, the cheapest first, with G⁻¹ and Θ downdated after each removal, so the choice
/// accounts for neurons that can stand in for each other, which per-neuron scores (prune-act) cannot. The kept neurons are returned with Down re-fitted
/// (lstsq). Needs calibration inputs with more tokens than neurons.
/// </summary>
public sealed class ObsPruneMethod : ICompressionMethod
{
    public string Name => "prune-obs";

    public string Description => "structured pruning by least-squares removal cost (OBS on neurons) on calibration inputs, Down re-fitted";

    public CompressedFeedForward Compress(FeedForwardWeights w, int targetHidden, CompressionContext ctx)
    {
        SubMlps.CheckTarget(w, targetHidden, ctx);
        if (ctx.Calibration is null)
            throw new MlpKitException($"{ctx.Where}: method prune-obs needs calibration inputs");
        var calibration = ctx.Calibration.reshape(-1, w.InputDim);
        var (order, _) = RemovalSchedule(w, calibration, (int)w.HiddenDim - targetHidden, ctx.Where);
        var gone = order.ToHashSet();
        var keep = tensor(Enumerable.Range(0, (int)w.HiddenDim).Where(i => !gone.Contains(i)).Select(i => (long)i).ToArray());
        var kept = new CompressedFeedForward(SubMlps.Select(w, keep), null);
        return Repair.Apply(kept, calibration, w.Forward(calibration), RepairMode.Lstsq, ctx.Where);
    }

    /// <summary>
    /// The greedy OBS order: the first <paramref name="removals"/> neurons to remove, and what each removal adds to
    /// the block's squared output error on the calibration tokens, relative to ‖Y − mean Y‖² (so layers compare).
    /// </summary>
    public static (List<int> Order, double[] RelativeCost) RemovalSchedule(FeedForwardWeights w, Tensor calibration, int removals, string where)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = calibration.reshape(-1, w.InputDim).to(ScalarType.Float64);
        long n = x.shape[0], p = w.HiddenDim;
        // With fewer tokens than neurons the ridge term keeps G invertible; CompressRun warns that the fit is then
        // ridge-dominated rather than refusing, so a small calibration file still gives a model.
        if (n == 0) throw new MlpKitException($"{where}: prune-obs needs calibration tokens, got none");
        var w64 = SubMlps.CastLike(w, w with { Up = w.Up.to(ScalarType.Float64) });
        var h = SubMlps.Hidden(w64, x);
        var y = w64.Forward(x);
        // Relative to the residual stream the block adds to (its input, for BERT-style blocks), else its output.
        var stream = w.InputDim == w.OutputDim ? x : y;
        double energy = Math.Max((stream - stream.mean([0])).square().sum().ToDouble(), 1e-300);
        // The bias column joins the fit only where the block has an output bias to hold the intercept.
        bool withBias = w.DownBias is not null;
        var a = withBias ? cat([h, ones(n, 1, dtype: ScalarType.Float64)], 1) : h;
        long cols = a.shape[1];
        var g = a.t().matmul(a);
        var lambda = Repair.RelativeRidge * g.diagonal().narrow(0, 0, p).mean().ToDouble();
        g = g + eye(cols, dtype: ScalarType.Float64) * lambda;
        var ay = a.t().matmul(y);
        // Greedy OBS, one neuron at a time. gi = G⁻¹ and Θ = G⁻¹AᵀY are downdated in place by rank-one updates
        // when neuron j goes (gi ← gi − gi[:,j]gi[j,:]/gi_jj, Θ ← Θ − gi[:,j]Θ_j/gi_jj: the re-fit of the others),
        // which leaves row and column j zero; removed neurons are masked out of the choice.
        var gi = linalg.inv(g);
        var theta = gi.matmul(ay);
        var removed = zeros(cols, dtype: ScalarType.Bool);
        if (withBias) removed[p] = tensor(true);                     // the bias column is never removed
        var order = new List<int>(removals);
        var costs = new double[removals];
        for (int step = 0; step < removals; step++)
        {
            using var round = NewDisposeScope();
            var cost = (theta.square().sum([1]) / gi.diagonal()).masked_fill(removed, double.PositiveInfinity);
            long j = cost.argmin().ToInt64();
            costs[step] = cost[j].ToDouble() / energy;
            var col = gi[.., j].clone();
            double gjj = col[j].ToDouble();
            var thetaJ = theta[j].clone();
            // In-place rank-one updates (BLAS ger), no p×p temporaries.
            theta.addr_(col, thetaJ, 1, (float)(-1.0 / gjj));
            gi.addr_(col, col, 1, (float)(-1.0 / gjj));
            removed[j] = tensor(true);
            order.Add((int)j);
        }
        return (order, costs);
    }
}
