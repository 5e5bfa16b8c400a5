using MlpKit.Ffn;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.Compression;

/// <summary>
/// Puts a model's fused block (stored with the counts folded into Down) back into MLP Fusion's training
/// parametrization: Down's parameter becomes W̄2 = Down / n and a forward pre-hook multiplies the activated hidden
/// vector by the frozen n. The block computes the same function; fine-tuning then updates W̄2, not W̄2·diag(n).
/// Dispose to fold n back into Down and remove the hook (e.g. before saving).
/// </summary>
public sealed class StandaloneScale : IDisposable
{
    readonly IFeedForward _block;
    readonly Tensor _n;
    readonly Action _remove;
    bool _done;

    StandaloneScale(IFeedForward block, Tensor n, Action remove) { _block = block; _n = n; _remove = remove; }

    public static StandaloneScale Attach(IFeedForward block, Tensor counts)
    {
        if (counts.dim() != 1 || counts.shape[0] != block.HiddenDim)
            throw new MlpKitException($"{block.Name}: cluster sizes have shape [{string.Join(", ", counts.shape)}], the block has {block.HiddenDim} hidden units");
        if (block is not nn.Module m || m.named_children().FirstOrDefault(c => c.name == "down").module is not Linear down)
            throw new MlpKitException($"{block.Name}: not a DenseFeedForward module; cannot attach a standalone scale");
        var w = block.GetWeights();
        var n = counts.detach().to(w.Down.dtype).clone().DetachFromDisposeScope();
        using (no_grad())
            block.SetWeights(w with { Down = w.Down / n.unsqueeze(0) });
        var remover = down.register_forward_pre_hook((_, input) => input * n.to(input.dtype));
        return new StandaloneScale(block, n, remover.remove);
    }

    public void Dispose()
    {
        if (_done) return;
        _done = true;
        _remove();
        var w = _block.GetWeights();
        using (no_grad())
            _block.SetWeights(w with { Down = w.Down * _n.to(w.Down.dtype).unsqueeze(0) });
        _n.Dispose();
    }
}
