using MlpKit.Checkpoints;
using MlpKit.Ffn;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.Models.Mixtral;

/// <summary>
/// Mixtral-style sparse-MoE decoder (modeling_mixtral.py): pre-RMSNorm blocks, rotary attention with
/// grouped-query heads (query head j reads key/value head j / (heads / kvHeads)), and a top-k routed
/// SwiGLU expert block in place of the MLP.
/// </summary>
public sealed class MixtralModel : TransformerModel, ICausalLanguageModel
{
    readonly MixtralConfig _cfg;
    readonly Tensor _invFreq;
    private Embedding embed;
    private ModuleList<RotaryDecoderLayer<MixtralSparseMoe>> layers;
    private RmsNorm norm;
    private Linear? lm_head;

    public MixtralModel(MixtralConfig cfg, HfConfig? source = null)
        : base("MixtralForCausalLM", source ?? DefaultConfig(cfg), cfg.VocabSize, cfg.HiddenSize, cfg.NumLayers)
    {
        _cfg = cfg;
        embed = nn.Embedding(cfg.VocabSize, cfg.HiddenSize);
        layers = new ModuleList<RotaryDecoderLayer<MixtralSparseMoe>>(Enumerable.Range(0, cfg.NumLayers).Select(i => new RotaryDecoderLayer<MixtralSparseMoe>(
            i, cfg.HiddenSize, cfg.RmsNormEps,
            new GqaAttention(cfg.HiddenSize, cfg.NumHeads, cfg.NumKeyValueHeads, cfg.HeadDim, qkvBias: false, outputBias: false, cfg.AttentionDropout),
            "moe", new MixtralSparseMoe($"layers.{i}.moe", cfg.HiddenSize, cfg.ExpertIntermediateSizes[i], cfg.TopK))).ToArray());
        norm = new RmsNorm(cfg.HiddenSize, cfg.RmsNormEps);
        if (!cfg.TieWordEmbeddings) lm_head = nn.Linear(cfg.HiddenSize, cfg.VocabSize, hasBias: false);
        _invFreq = RotaryEmbedding.InverseFrequencies(cfg.HeadDim, cfg.RopeTheta).DetachFromDisposeScope();
        RegisterComponents();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _invFreq.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>The config.json of a model built from a typed config alone.</summary>
    static HfConfig DefaultConfig(MixtralConfig cfg)
    {
        var config = MixtralConfigHf.Create(cfg.VocabSize, cfg.HiddenSize, cfg.NumLayers, cfg.NumHeads, cfg.NumKeyValueHeads,
            cfg.ExpertIntermediateSizes[0][0], cfg.NumExperts, cfg.TopK, cfg.MaxPositions);
        config.Set("head_dim", cfg.HeadDim);
        config.Set("rope_theta", cfg.RopeTheta);
        config.Set("rms_norm_eps", cfg.RmsNormEps);
        config.Set("tie_word_embeddings", cfg.TieWordEmbeddings);
        config.Set("sliding_window", cfg.SlidingWindow is long w ? System.Text.Json.Nodes.JsonValue.Create(w) : null);
        return HfConfigFields.Normalize(config);
    }

    public MixtralConfig TypedConfig => _cfg;
    public override HfConfig ExportConfig()
    {
        var c = HfConfigFields.Clone(Config);
        FfnWidths.WriteExperts(c, layers.Select(l => (IReadOnlyList<long>)l.FeedForward.Experts.Select(e => e.HiddenDim).ToArray()).ToArray(),
            c.GetLong("intermediate_size"));
        return c;
    }

    public override string Architecture => "mixtral";
    public long MaxPositions => _cfg.MaxPositions;
    public override IReadOnlyList<IFeedForward> FeedForwards => layers.SelectMany(l => l.FeedForward.Experts).ToArray();
    public override IReadOnlyList<IMoeFeedForward> MoeBlocks => layers.Select(l => (IMoeFeedForward)l.FeedForward).ToArray();
    public IReadOnlyList<MixtralSparseMoe> SparseMoeBlocks => layers.Select(l => l.FeedForward).ToArray();

    public KvCache NewCache() => new(_cfg.NumLayers);

    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, KvCache? cache = null) =>
        RotaryDecoder.Forward(inputIds, attentionMask, cache, embed, norm, lm_head, _invFreq, _cfg.SlidingWindow, layers.Count,
            (x, mask, cos, sin, c, i) => layers[i].forward(x, mask, cos, sin, c, i));

    /// <summary>transformers' names; the experts are block_sparse_moe.experts.N.w1 (gate), w3 (up), w2 (down).</summary>
    public override TensorNameMap NameMap() => RotaryDecoder.Names(Architecture, layers.Select(l => l.Attention).ToList(), lm_head is not null,
        (i, n, l) => Enumerable.Range(0, _cfg.NumExperts).SelectMany(x => new TensorMapping[]
        {
            new($"{n}moe.experts.{x}.gate.weight", $"{l}block_sparse_moe.experts.{x}.w1.weight", ParameterCategory.Experts),
            new($"{n}moe.experts.{x}.up.weight", $"{l}block_sparse_moe.experts.{x}.w3.weight", ParameterCategory.Experts),
            new($"{n}moe.experts.{x}.down.weight", $"{l}block_sparse_moe.experts.{x}.w2.weight", ParameterCategory.Experts),
        }).Prepend(new($"{n}moe.router.weight", $"{l}block_sparse_moe.gate.weight", ParameterCategory.Other)));

    /// <summary>Every block is routed: experts count through the MoE term only.</summary>
    public override MlpFlops MlpFlopsPerToken() => MlpFlops.Compute(Array.Empty<IFeedForward>(), MoeBlocks);
}
