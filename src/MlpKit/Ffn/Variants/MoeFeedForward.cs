using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.Ffn.Variants;

/// <summary>Expert computation of <see cref="MoeFeedForward"/>.</summary>
public enum MoeKernelMode
{
    /// <summary>
    /// With ReLU (and no hidden dropout in training) the faster of the two by measured time (<see cref="MoeKernelTuner"/>);
    /// otherwise the padded bmm while the routing is balanced enough (little padding), else the sorted form.
    /// </summary>
    Auto,
    /// <summary><see cref="MoeKernels.Sorted"/>: one matmul per expert over its contiguous slice, no padding.</summary>
    Sorted,
    /// <summary><see cref="MoeKernels.PaddedBmm"/>: one bmm per projection over all experts, padded to the largest load.</summary>
    PaddedBmm,
    /// <summary>
    /// <see cref="Sorted"/> with libtorch's intra-op threads set to 1 for the expert computation (forward and
    /// backward): no parallel region waits for a second thread that a busy machine has descheduled. ReLU only.
    /// </summary>
    SortedOneThread,
}

/// <summary>
/// A mixture of N_E small experts (two-layer MLPs of G hidden units, no biases) with a linear selector, K
/// experts per token: σ-MoE by default, Switch and S-BASE through <see cref="MoeConfig"/>. Forward on [T, d]:
/// <code>
///   z = x·W_Sᵀ                              selector logits [T, N_E]
///   g = sigmoid(z) (or softmax, see MoeSelection)
///   E = top-K of g, unsorted, after expert dropout removed candidates (training)
///   y = Σ_{e∈E} g_e · act(x·W1_e)·W2_e       gates not renormalised
/// </code>
/// The regulariser reads the raw logits. The experts run through <see cref="MoeKernels.Sorted"/> or <see cref="MoeKernels.PaddedBmm"/> (see <see cref="KernelMode"/>).
/// </summary>
public sealed class MoeFeedForward : FeedForwardVariant
{
    private Parameter keys;
    private Parameter values;
    private Parameter expert_sel;
    private readonly MoeConfig _config;
    private readonly string _variantName;

    public MoeFeedForward(MoeConfig config, string variantName = "sigma-moe", string name = "ffn") : base(nameof(MoeFeedForward))
    {
        config.Validate(name);
        _config = config;
        _variantName = variantName;
        long d = config.DModel, ne = config.NExperts, g = config.ExpertSize;
        keys = new Parameter(empty(ne, d, g));
        values = new Parameter(empty(ne, g, d));
        expert_sel = new Parameter(empty(ne, d));
        RegisterComponents();
        var ws = config.WeightStdScale * (config.Init == MoeInit.Switch ? Math.Sqrt(0.1) : 1.0);
        VariantInit.Normal(keys, ws / Math.Sqrt(d));
        VariantInit.Normal(values, ws / Math.Sqrt(config.Init == MoeInit.Sigma ? ne * g : g));
        VariantInit.Normal(expert_sel, ws / Math.Sqrt(d));
        if (config.Init != MoeInit.Switch) VariantInit.RenormRowsKeepStd(expert_sel);
        _usage = new long[ne];
    }

    public override string VariantName => _variantName;
    public override FfnVariantConfig Config => _config;
    public MoeConfig MoeConfig => _config;

    /// <summary>Expert keys W1 [N_E, d, G].</summary>
    public Parameter Keys => keys;
    /// <summary>Expert values W2 [N_E, G, d].</summary>
    public Parameter Values => values;
    /// <summary>Selector W_S [N_E, d].</summary>
    public Parameter Selector => expert_sel;

    /// <summary>Selections [T, K] and gates [T, K] of the last forward call (for diagnostics and tests).</summary>
    public (Tensor Indices, Tensor Gates)? LastSelection { get; private set; }

    /// <summary>Test hook: every chosen gate is 1, turning the layer into a plain sum of the chosen experts.</summary>
    internal bool ForceUnitGates { get; set; }

    /// <summary>Which expert path runs (<see cref="MoeKernelMode.Auto"/> by default).</summary>
    public MoeKernelMode KernelMode { get; set; } = MoeKernelMode.Auto;

    /// <summary>Times the two expert paths in <see cref="MoeKernelMode.Auto"/> and keeps the faster (see <see cref="MoeKernelTuner"/>).</summary>
    public MoeKernelTuner KernelTuner { get; } = new();

    /// <summary>Without the sorted path's hand-written backward, Auto uses the padded bmm while it computes at most this many rows per real (token, slot) pair.</summary>
    public double MaxPaddingOverhead { get; set; } = 1.5;

    /// <summary>The expert path the last forward call took, and the padding the padded form would have needed.</summary>
    public MoeKernelMode LastKernel { get; private set; } = MoeKernelMode.Auto;
    public double LastPaddingOverhead { get; private set; } = 1.0;

    public override Tensor forward(Tensor x)
    {
        var shape = x.shape;
        var x2 = x.reshape(-1, shape[^1]);
        var z = nn.functional.linear(x2, expert_sel);

        Tensor gateSource;
        switch (_config.Selection)
        {
            case MoeSelection.Sigmoid: gateSource = z.sigmoid(); break;
            case MoeSelection.SoftmaxBeforeTopK: gateSource = z.softmax(-1); break;
            default: gateSource = z; break;
        }

        Tensor idx;
        Tensor? dropped = null;
        using (no_grad())
        {
            var score = training && _config.SinkhornIterations > 0
                ? MoeRegularizers.SinkhornBalance(z, _config.SinkhornIterations)
                : gateSource.detach();
            if (training && _config.ExpertDropout > 0)
            {
                dropped = rand_like(score).lt(_config.ExpertDropout);
                score = score.masked_fill(dropped, double.NegativeInfinity);
            }
            idx = score.topk((int)_config.K, dim: -1, largest: true, sorted: false).indexes;
        }

        var gate = gateSource.gather(1, idx);
        if (_config.Selection == MoeSelection.SoftmaxAfterTopK) gate = gate.softmax(-1);
        // A dropped expert is only chosen when fewer than K survive; it then contributes nothing.
        if (dropped is not null) gate = gate * dropped.gather(1, idx).logical_not().to(gate.dtype);
        if (ForceUnitGates) gate = ones_like(gate);

        _aux = _config.Regularizer switch
        {
            MoeRegularizer.Entropy when _config.Gamma > 0 => _config.Gamma * MoeRegularizers.NegativeMarginalEntropy(z),
            MoeRegularizer.SwitchLoadBalance when _config.Gamma > 0 => _config.Gamma * MoeRegularizers.SwitchLoadBalance(z, idx),
            _ => null,
        };

        var routing = MoeKernels.Route(idx, _config.NExperts);
        AddUsage(routing.Counts, x2.shape[0]);
        LastSelection = (idx, gate);
        LastPaddingOverhead = MoeKernels.PaddingOverhead(routing);
        // Where the sorted path has its hand-written backward (ReLU, no hidden dropout in training), Auto lets the
        // tuner pick it or the padded bmm by measured time; elsewhere both run under autograd and padding decides.
        var sortedCustom = _config.Activation == FfnActivation.Relu && !(training && _config.HiddenDropout > 0);
        var mode = KernelMode;
        var tuning = false;
        if (mode == MoeKernelMode.Auto)
        {
            if (sortedCustom)
            {
                mode = KernelTuner.Next(get_num_threads());
                tuning = !KernelTuner.Settled;
            }
            else mode = LastPaddingOverhead <= MaxPaddingOverhead ? MoeKernelMode.PaddedBmm : MoeKernelMode.Sorted;
        }
        LastKernel = mode;
        Action<double>? onBackwardMs = null;
        var sw = tuning ? System.Diagnostics.Stopwatch.StartNew() : null;
        double forwardMs = 0;
        // A call that will be differentiated reports forward + backward from the backward; others report at once.
        var backwardFollows = tuning && is_grad_enabled() && (x2.requires_grad || keys.requires_grad || values.requires_grad);
        if (backwardFollows)
        {
            var tuner = KernelTuner;
            var chosen = mode;
            onBackwardMs = ms => tuner.Report(chosen, forwardMs + ms);
        }
        var y = mode == MoeKernelMode.PaddedBmm
            ? MoeKernels.PaddedBmm(x2, idx, gate, keys, values, _config.Activation, _config.HiddenDropout, training, routing, onBackwardMs: onBackwardMs)
            : MoeKernels.Sorted(x2, idx, gate, keys, values, _config.Activation, _config.HiddenDropout, training, routing,
                onBackwardMs: onBackwardMs, oneThread: mode == MoeKernelMode.SortedOneThread && sortedCustom);
        if (sw is not null)
        {
            forwardMs = sw.Elapsed.TotalMilliseconds;
            if (!backwardFollows) KernelTuner.Report(mode, forwardMs);
        }
        return y.reshape(shape);
    }

    public override long MacsPerToken => _config.MacsPerToken;
    public override double NominalComputeFraction => _config.NominalComputeFraction;
}
