using MlpKit.Compression;
using MlpKit.Ffn;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.Ntk;

/// <summary>
/// Records, for each linear map of one feed-forward block, its input and output during a forward pass, so the
/// per-example weight gradients can be formed as Σ_t g_t ⊗ a_t from a single backward pass.
/// Two ways to get one:
/// <list type="bullet">
/// <item>the constructor: a standalone block evaluated from the tap's own leaf parameter copies (requiring grad);</item>
/// <item><see cref="Attach"/>: forward hooks on a model block's linears record what the model computes, unchanged.</item>
/// </list>
/// With a hidden scale s (MLP Fusion's frozen diag(n)) the kernel is taken w.r.t. W1, b1, W̄2 of
/// y = W̄2·(s ⊙ h(x)) + b2, the parametrization the fused block is fine-tuned in.
/// </summary>
public sealed class FfnTap : IDisposable
{
    internal sealed record LinearRecord(int Linear, bool HasBias, Tensor Input, Tensor Output);

    const int UpId = 0, GateId = 1, DownId = 2;

    readonly Tensor? _scale;
    readonly FfnActivation _act;
    readonly List<Tensor> _params = new();
    readonly Tensor? _up, _upBias, _gate, _down, _downBias;
    readonly List<Action> _unhook = new();
    readonly bool _ownsParams;
    internal readonly List<LinearRecord> Records = new();

    /// <summary>A standalone block; <paramref name="hiddenScale"/> is the frozen s, with <c>w.Down</c> being W̄2.</summary>
    public FfnTap(FeedForwardWeights w, Tensor? hiddenScale = null, string name = "feed-forward")
    {
        w.Validate(name);
        Name = name;
        _ownsParams = true;
        _act = w.Activation;
        _scale = hiddenScale?.detach().to(w.Down.dtype).clone();
        _up = Leaf(w.Up);
        _upBias = w.UpBias is null ? null : Leaf(w.UpBias);
        _gate = w.Gate is null ? null : Leaf(w.Gate);
        _down = Leaf(w.Down);
        _downBias = w.DownBias is null ? null : Leaf(w.DownBias);
    }

    FfnTap(string name, Tensor? scale)
    {
        Name = name;
        _scale = scale;
    }

    /// <summary>A compressed block in its training parametrization (fusion: centroids + frozen counts).</summary>
    public static FfnTap For(CompressedFeedForward c, string name = "feed-forward") => new(c.Weights, c.HiddenScale, name);

    /// <summary>A standalone block whose Down has the scale folded in (as a checkpoint stores it): W̄2 = Down / s.</summary>
    public static FfnTap FromFolded(FeedForwardWeights folded, Tensor? hiddenScale, string name = "feed-forward") =>
        hiddenScale is null
            ? new FfnTap(folded, null, name)
            : new FfnTap(folded with { Down = folded.Down / hiddenScale.to(folded.Down.dtype).unsqueeze(0) }, hiddenScale, name);

    /// <summary>
    /// Hooks a model's block (a <see cref="DenseFeedForward"/>): the model runs as always, the tap records its linears.
    /// When the model holds a fused block with the counts folded into Down, pass them as <paramref name="hiddenScale"/>
    /// to measure the kernel in the standalone parametrization. Dispose the tap to remove the hooks.
    /// </summary>
    public static FfnTap Attach(IFeedForward block, Tensor? hiddenScale = null)
    {
        if (block is not nn.Module module)
            throw new MlpKitException($"NTK: block {block.Name} is not a module; its linears cannot be hooked");
        var tap = new FfnTap(block.Name, hiddenScale?.detach().clone());
        var children = module.named_children().ToDictionary(c => c.name, c => c.module);
        foreach (var (childName, id) in new[] { ("up", UpId), ("gate", GateId), ("down", DownId) })
        {
            if (!children.TryGetValue(childName, out var child) || child is not Linear lin) continue;
            var remover = lin.register_forward_hook((m, input, output) =>
            {
                // Models run inside their own dispose scopes; the recorded handles must outlive the forward call.
                var a = (id == DownId && tap._scale is not null ? input * tap._scale.to(input.dtype) : input.alias()).DetachFromDisposeScope();
                tap.Records.Add(new LinearRecord(id, ((Linear)m).bias is not null, a, output.alias().DetachFromDisposeScope()));
                return output;
            });
            tap._unhook.Add(remover.remove);
            foreach (var p in lin.parameters()) tap._params.Add(p);
        }
        if (tap._unhook.Count == 0)
            throw new MlpKitException($"NTK: block {block.Name} has no up/down linears to hook");
        return tap;
    }

    public string Name { get; }

    /// <summary>The tensors the kernel is taken over (standalone: leaf copies; attached: the model's parameters of this block).</summary>
    public IReadOnlyList<Tensor> Parameters => _params;

    Tensor Leaf(Tensor t)
    {
        var p = t.detach().clone().requires_grad_(true);
        _params.Add(p);
        return p;
    }

    /// <summary>Clears what the previous forward recorded.</summary>
    public void Reset()
    {
        if (_unhook.Count > 0)
            foreach (var r in Records) { r.Input.Dispose(); r.Output.Dispose(); }
        Records.Clear();
    }

    /// <summary>Evaluates a standalone tap on [..., in] inputs, recording its linears.</summary>
    public Tensor Forward(Tensor x)
    {
        if (_up is null || _down is null) throw new InvalidOperationException("an attached tap runs inside its model");
        var zu = nn.functional.linear(x, _up, _upBias);
        Records.Add(new LinearRecord(UpId, _upBias is not null, x, zu));
        Tensor h;
        if (_gate is not null)
        {
            var zg = nn.functional.linear(x, _gate);
            Records.Add(new LinearRecord(GateId, false, x, zg));
            h = Activations.Apply(_act, zg) * zu;
        }
        else
        {
            h = Activations.Apply(_act, zu);
        }
        if (_scale is not null) h = h * _scale;
        var y = nn.functional.linear(h, _down, _downBias);
        Records.Add(new LinearRecord(DownId, _downBias is not null, h, y));
        return y;
    }

    public void Dispose()
    {
        Reset();
        foreach (var u in _unhook) u();
        _unhook.Clear();
        if (_ownsParams) foreach (var p in _params) p.Dispose();
        _scale?.Dispose();
    }
}
