using MlpKit.Ffn;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.Models.Mixtral;

/// <summary>
/// HF's MixtralSparseMoeBlock: router logits = gate(x); probabilities = softmax (in float32); the top-k are kept
/// and renormalised to sum to one; the output is Σ_k w_k · expert_k(x) with SwiGLU experts
/// w2(silu(w1 x) ⊙ w3 x) (here Gate = w1, Up = w3, Down = w2).
/// </summary>
public sealed class MixtralSparseMoe : nn.Module<Tensor, Tensor>, IMoeFeedForward
{
    private Linear router;
    private ModuleList<DenseFeedForward> experts;
    readonly string _name;
    readonly int _topK;

    public MixtralSparseMoe(string name, long hidden, IReadOnlyList<long> expertSizes, int topK) : base(nameof(MixtralSparseMoe))
    {
        if (topK < 1 || topK > expertSizes.Count)
            throw new MlpKitException($"config.json: num_experts_per_tok: {topK} must be between 1 and num_local_experts ({expertSizes.Count})");
        _name = name;
        _topK = topK;
        router = nn.Linear(hidden, expertSizes.Count, hasBias: false);
        experts = new ModuleList<DenseFeedForward>(expertSizes.Select((size, e) =>
            new DenseFeedForward($"{name}.experts.{e}", hidden, size, hidden, FfnActivation.Silu, gated: true, upBias: false, downBias: false)).ToArray());
        RegisterComponents();
    }

    public string Name => _name;
    public Tensor RouterWeight => router.weight!;
    public int TopK => _topK;
    public IReadOnlyList<IFeedForward> Experts => experts.Cast<IFeedForward>().ToArray();

    /// <summary>Routing of flat tokens [n, hidden]: renormalised top-k weights [n, k], expert indices [n, k], router logits [n, experts].</summary>
    public (Tensor Weights, Tensor Indices, Tensor Logits) Route(Tensor flat)
    {
        var logits = router.forward(flat);
        var probs = logits.to_type(ScalarType.Float32).softmax(-1);
        var (w, idx) = probs.topk(_topK, dim: -1);
        w = w / w.sum(-1, keepdim: true);
        return (w.to_type(flat.dtype), idx, logits);
    }

    public override Tensor forward(Tensor x)
    {
        var shape = x.shape;
        var flat = x.reshape(-1, shape[^1]);
        var (w, idx, _) = Route(flat);
        var output = zeros_like(flat);
        for (int e = 0; e < experts.Count; e++)
        {
            // Tokens that chose expert e, and in which of their k slots; each token picks an expert at most once.
            var hit = idx.eq(e).nonzero();
            if (hit.shape[0] == 0) continue;
            var tokens = hit.select(1, 0);
            var slots = hit.select(1, 1);
            var y = experts[e].forward(flat.index_select(0, tokens));
            var weight = w.index_select(0, tokens).gather(1, slots.unsqueeze(1));
            output.index_add_(0, tokens, y * weight, 1.0);
        }
        return output.reshape(shape);
    }
}
