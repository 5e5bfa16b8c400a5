using MlpKit.Checkpoints;
using MlpKit.Ffn;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.Models.Llama;

/// <summary>
/// The Llama-family decoder (transformers' modeling_llama.py, and modeling_mistral/qwen2 where the math is the same):
/// pre-RMSNorm blocks, rotary attention (optionally Llama 3.1-scaled) with grouped-query heads (query head j reads
/// key/value head j / (heads / kvHeads)), optional attention biases, and a SwiGLU MLP down(silu(gate x) · up x) held
/// as a gated <see cref="DenseFeedForward"/>, so every compression and fine-tuning method works on it.
/// </summary>
public sealed class LlamaModel : TransformerModel, ICausalLanguageModel
{
    readonly LlamaConfig _cfg;
    readonly Tensor _invFreq;
    private Embedding embed;
    private ModuleList<RotaryDecoderLayer<DenseFeedForward>> layers;
    private RmsNorm norm;
    private Linear? lm_head;

    public LlamaModel(LlamaConfig cfg, HfConfig source) : base("LlamaForCausalLM", source, cfg.VocabSize, cfg.HiddenSize, cfg.NumLayers)
    {
        _cfg = cfg;
        embed = nn.Embedding(cfg.VocabSize, cfg.HiddenSize);
        layers = new ModuleList<RotaryDecoderLayer<DenseFeedForward>>(Enumerable.Range(0, cfg.NumLayers).Select(i => Layer(cfg, i)).ToArray());
        norm = new RmsNorm(cfg.HiddenSize, cfg.RmsNormEps);
        if (!cfg.TieWordEmbeddings) lm_head = nn.Linear(cfg.HiddenSize, cfg.VocabSize, hasBias: false);
        _invFreq = LlamaRope.InverseFrequencies(cfg).DetachFromDisposeScope();
        RegisterComponents();
    }

    static RotaryDecoderLayer<DenseFeedForward> Layer(LlamaConfig cfg, int i) => new(i, cfg.HiddenSize, cfg.RmsNormEps,
        new GqaAttention(cfg.HiddenSize, cfg.NumHeads, cfg.NumKeyValueHeads, cfg.HeadDim, cfg.QkvBias, cfg.OutputBias, cfg.AttentionDropout),
        "mlp", new DenseFeedForward($"layers.{i}.mlp", cfg.HiddenSize, cfg.IntermediateSizes[i], cfg.HiddenSize, FfnActivation.Silu,
            gated: true, upBias: false, downBias: false));

    public LlamaConfig TypedConfig => _cfg;
    public override string Architecture => _cfg.ModelType;
    public long MaxPositions => _cfg.MaxPositions;
    public override IReadOnlyList<IFeedForward> FeedForwards => layers.Select(l => (IFeedForward)l.FeedForward).ToArray();

    public KvCache NewCache() => new(_cfg.NumLayers);

    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, KvCache? cache = null) =>
        RotaryDecoder.Forward(inputIds, attentionMask, cache, embed, norm, lm_head, _invFreq, _cfg.SlidingWindow, layers.Count,
            (x, mask, cos, sin, c, i) => layers[i].forward(x, mask, cos, sin, c, i));

    /// <summary>transformers' names: model.layers.N.self_attn.q_proj, mlp.gate_proj/up_proj/down_proj, ...</summary>
    public override TensorNameMap NameMap() => RotaryDecoder.Names(Architecture, layers.Select(l => l.Attention).ToList(), lm_head is not null,
        (i, n, l) => new[] { ("gate", "gate_proj"), ("up", "up_proj"), ("down", "down_proj") }
            .Select(m => new TensorMapping($"{n}mlp.{m.Item1}.weight", $"{l}mlp.{m.Item2}.weight", ParameterCategory.Mlp)));

    protected override void Dispose(bool disposing)
    {
        if (disposing) _invFreq.Dispose();
        base.Dispose(disposing);
    }
}
