using MlpKit.Ffn;
using TorchSharp;
using static TorchSharp.torch;

namespace MlpKit.Compression;

/// <summary>What is re-fitted after a block lost neurons (see docs/fusion.md, "Repair").</summary>
public enum RepairMode
{
    /// <summary>The method's own weights, unchanged (the papers' one-shot setting).</summary>
    None,
    /// <summary>FLAP-style bias compensation: DownBias absorbs the mean output change on the calibration tokens.</summary>
    Bias,
    /// <summary>Down and DownBias re-solved in closed form (ridge least squares) to reproduce the original block's outputs.</summary>
    Lstsq,
}

/// <summary>
/// Re-fits the output side of a compressed block on calibration tokens. With the kept hidden activations
/// H = act(Up'·x + b1') [N, c] (fused blocks: before their cluster-size scale n) and the target outputs Y [N, out],
/// <c>lstsq</c> solves min ‖[H 1]·Θ − Y‖² + λ‖Θ‖² in float64 (λ = <see cref="RelativeRidge"/> × the mean diagonal
/// of HᵀH, so the ridge scales with the activations), and sets Down = Θ[:c]ᵀ / n, DownBias = Θ[c]: the block
/// then reproduces its target as well as a linear read-out of its remaining neurons can. With c = p and no
/// ridge this recovers the original weights exactly; it never increases the calibration error (the method's
/// own Down is one candidate of the minimisation). <c>bias</c> only shifts DownBias by mean(Y − block(x)).
/// </summary>
public static class Repair
{
    public const double RelativeRidge = 1e-3;

    public static RepairMode Parse(string text, string field = "--repair") => text.ToLowerInvariant() switch
    {
        "none" => RepairMode.None,
        "bias" => RepairMode.Bias,
        "lstsq" => RepairMode.Lstsq,
        _ => throw new MlpKitException($"{field} {text}: unknown repair (none, bias or lstsq)"),
    };

    public static string Name(RepairMode mode) => mode.ToString().ToLowerInvariant();

    /// <param name="r">The compressed block.</param>
    /// <param name="x">Its inputs [N, in] (from the model as it is now).</param>
    /// <param name="target">What it should output for them [N, out].</param>
    /// <param name="mode">none, bias or lstsq.</param>
    /// <param name="ridge">λ relative to the mean diagonal of HᵀH.</param>
    /// <param name="where">The block's name, for errors.</param>
    public static CompressedFeedForward Apply(CompressedFeedForward r, Tensor x, Tensor target, RepairMode mode, string where, double ridge = RelativeRidge)
    {
        if (mode == RepairMode.None) return r;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var w = r.Weights;
        var dtype = w.Down.dtype;
        var x64 = x.to(ScalarType.Float64);
        var y64 = target.to(ScalarType.Float64);
        if (!x64.isfinite().all().ToBoolean() || !y64.isfinite().all().ToBoolean())
            throw new MlpKitException($"{where}: NaN or Inf in the calibration activations; cannot repair");
        if (mode == RepairMode.Bias)
        {
            if (w.DownBias is null)
                throw new MlpKitException($"{where}: the block has no output bias (as in Llama and Mixtral), so --repair bias does not apply; use --repair lstsq or none");
            var shift = (y64 - r.Forward(x.to(dtype)).to(ScalarType.Float64)).mean([0]);
            var bias = (w.DownBias?.to(ScalarType.Float64) ?? zeros_like(shift)) + shift;
            return r with { Weights = w with { DownBias = bias.to(dtype).MoveToOuterDisposeScope() } };
        }
        long n = x.shape[0], c = w.HiddenDim;
        // Fewer tokens than neurons: the ridge term keeps the system solvable (CompressRun warns that it dominates).
        if (n == 0) throw new MlpKitException($"{where}: least-squares repair needs calibration tokens, got none");
        var w64 = new FeedForwardWeights(w.Up.to(ScalarType.Float64), w.UpBias?.to(ScalarType.Float64), w.Gate?.to(ScalarType.Float64),
            w.Down.to(ScalarType.Float64), null, w.Activation);
        var h = Hidden(w64, x64);                                      // [N, c], before the scale n
        // The intercept is fitted only where the block has an output bias to hold it (Llama's and Mixtral's have none).
        bool withBias = w.DownBias is not null;
        var a = withBias ? cat([h, ones(n, 1, ScalarType.Float64, h.device)], 1) : h;   // [N, c (+ 1)]
        long cols = a.shape[1];
        var g = a.t().matmul(a);
        var lambda = ridge * g.diagonal().narrow(0, 0, c).mean().ToDouble();
        g = g + eye(cols, dtype: ScalarType.Float64, device: h.device) * lambda;
        var theta = linalg.solve(g, a.t().matmul(y64));                // [c (+ 1), out]
        var down = theta.narrow(0, 0, c).t();                          // [out, c]
        if (r.HiddenScale is { } s) down = down / s.to(ScalarType.Float64).unsqueeze(0);
        if (!down.isfinite().all().ToBoolean())
            throw new MlpKitException($"{where}: the least-squares repair diverged (NaN/Inf); use --repair bias");
        return r with
        {
            Weights = w with
            {
                Down = down.to(dtype).contiguous().MoveToOuterDisposeScope(),
                DownBias = withBias ? theta[c].to(dtype).MoveToOuterDisposeScope() : null,
            },
        };
    }

    static Tensor Hidden(FeedForwardWeights w, Tensor x)
    {
        var h = nn.functional.linear(x, w.Up, w.UpBias);
        return w.Gate is null ? Activations.Apply(w.Activation, h) : Activations.Apply(w.Activation, nn.functional.linear(x, w.Gate)) * h;
    }
}
