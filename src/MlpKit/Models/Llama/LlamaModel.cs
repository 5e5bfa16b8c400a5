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
public sealed class LlamaModel : nn.Module, ICausalLanguageModel
{
    readonly LlamaConfig _cfg;
    readonly Tensor _invFreq;
    private Embedding embed;
    private ModuleList<LlamaLayer> layers;
    private RmsNorm norm;
    private Linear? lm_head;

    public LlamaModel(LlamaConfig cfg, HfConfig source) : base("LlamaForCausalLM")
    {
        Config = source;
        _cfg = cfg;
        embed = nn.Embedding(cfg.VocabSize, cfg.HiddenSize);
        layers = new ModuleList<LlamaLayer>(Enumerable.Range(0, cfg.NumLayers).Select(i => new LlamaLayer(cfg, i)).ToArray());
        norm = new RmsNorm(cfg.HiddenSize, cfg.RmsNormEps);
        if (!cfg.TieWordEmbeddings) lm_head = nn.Linear(cfg.HiddenSize, cfg.VocabSize, hasBias: false);
        _invFreq = LlamaRope.InverseFrequencies(cfg).DetachFromDisposeScope();
        RegisterComponents();
    }

    public LlamaConfig TypedConfig => _cfg;
    public HfConfig Config { get; }

    public HfConfig ExportConfig()
    {
        var c = HfConfigFields.Clone(Config);
        FfnWidths.WriteLayers(c, layers.Select(l => l.Mlp.HiddenDim).ToArray(), c.GetLong("intermediate_size"));
        return c;
    }

    public string Architecture => _cfg.ModelType;
    public nn.Module Module => this;
    public long VocabSize => _cfg.VocabSize;
    public long HiddenSize => _cfg.HiddenSize;
    public int NumLayers => _cfg.NumLayers;
    public long MaxPositions => _cfg.MaxPositions;
    public IReadOnlyList<IFeedForward> FeedForwards => layers.Select(l => (IFeedForward)l.Mlp).ToArray();
    public IReadOnlyList<IMoeFeedForward> MoeBlocks => [];

    public KvCache NewCache() => new(_cfg.NumLayers);

    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, KvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        var ids = inputIds.to_type(ScalarType.Int64);
        long t = ids.shape[1];
        long past = cache?.Length ?? 0;
        var x = embed.forward(ids);
        var mask = AttentionOps.CausalMask(t, past, attentionMask, x.dtype, x.device, _cfg.SlidingWindow);
        var (cos, sin) = RotaryEmbedding.Angles(past, t, _invFreq, x.dtype, x.device);
        for (int i = 0; i < layers.Count; i++) x = layers[i].forward(x, mask, cos, sin, cache, i);
        x = norm.forward(x);
        var logits = lm_head is null ? nn.functional.linear(x, embed.weight!) : lm_head.forward(x);
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>transformers' names: model.layers.N.self_attn.q_proj, mlp.gate_proj/up_proj/down_proj, ...</summary>
    public TensorNameMap NameMap()
    {
        const string p = "model.";
        var e = new List<TensorMapping> { new("embed.weight", p + "embed_tokens.weight", ParameterCategory.Embeddings) };
        for (int i = 0; i < _cfg.NumLayers; i++)
        {
            var l = $"{p}layers.{i}.";
            var n = $"layers.{i}.";
            e.Add(new(n + "input_norm.weight", l + "input_layernorm.weight", ParameterCategory.Other));
            foreach (var proj in new[] { "q_proj", "k_proj", "v_proj", "o_proj" })
            {
                e.Add(new(n + proj + ".weight", l + "self_attn." + proj + ".weight", ParameterCategory.Attention));
                if (proj == "o_proj" ? _cfg.OutputBias : _cfg.QkvBias)
                    e.Add(new(n + proj + ".bias", l + "self_attn." + proj + ".bias", ParameterCategory.Attention));
            }
            e.Add(new(n + "post_norm.weight", l + "post_attention_layernorm.weight", ParameterCategory.Other));
            foreach (var (ours, hf) in new[] { ("gate", "gate_proj"), ("up", "up_proj"), ("down", "down_proj") })
                e.Add(new($"{n}mlp.{ours}.weight", $"{l}mlp.{hf}.weight", ParameterCategory.Mlp));
        }
        e.Add(new("norm.weight", p + "norm.weight", ParameterCategory.Other));
        var ignored = new List<string> { @"rotary_emb\.inv_freq$" };
        if (lm_head is not null) e.Add(new("lm_head.weight", "lm_head.weight", ParameterCategory.Embeddings));
        else ignored.Add(@"^lm_head\.weight$");
        return new TensorNameMap(Architecture, e, [p], ignored);
    }

    public ParameterCounts CountParameters() => ParameterCounts.From(HfTensorBinding.Count(this, NameMap()));

    public MlpFlops MlpFlopsPerToken() => MlpFlops.Compute(FeedForwards, MoeBlocks);

    protected override void Dispose(bool disposing)
    {
        if (disposing) _invFreq.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>x + Attn(RMSNorm x), then x + MLP(RMSNorm x).</summary>
public sealed class LlamaLayer : nn.Module
{
    private RmsNorm input_norm;
    private Linear q_proj;
    private Linear k_proj;
    private Linear v_proj;
    private Linear o_proj;
    private RmsNorm post_norm;
    private DenseFeedForward mlp;
    readonly LlamaConfig _cfg;

    public LlamaLayer(LlamaConfig cfg, int index) : base($"layer{index}")
    {
        _cfg = cfg;
        long h = cfg.HiddenSize, d = cfg.HeadDim;
        input_norm = new RmsNorm(h, cfg.RmsNormEps);
        q_proj = nn.Linear(h, cfg.NumHeads * d, hasBias: cfg.QkvBias);
        k_proj = nn.Linear(h, cfg.NumKeyValueHeads * d, hasBias: cfg.QkvBias);
        v_proj = nn.Linear(h, cfg.NumKeyValueHeads * d, hasBias: cfg.QkvBias);
        o_proj = nn.Linear(cfg.NumHeads * d, h, hasBias: cfg.OutputBias);
        post_norm = new RmsNorm(h, cfg.RmsNormEps);
        mlp = new DenseFeedForward($"layers.{index}.mlp", h, cfg.IntermediateSizes[index], h, FfnActivation.Silu,
            gated: true, upBias: false, downBias: false);
        RegisterComponents();
    }

    public DenseFeedForward Mlp => mlp;

    public Tensor forward(Tensor x, Tensor mask, Tensor cos, Tensor sin, KvCache? cache, int index)
    {
        var (b, t) = (x.shape[0], x.shape[1]);
        long d = _cfg.HeadDim;
        var h = input_norm.forward(x);
        var q = q_proj.forward(h).view(b, t, _cfg.NumHeads, d).transpose(1, 2);
        var k = k_proj.forward(h).view(b, t, _cfg.NumKeyValueHeads, d).transpose(1, 2);
        var v = v_proj.forward(h).view(b, t, _cfg.NumKeyValueHeads, d).transpose(1, 2);
        q = RotaryEmbedding.Apply(q, cos, sin);
        k = RotaryEmbedding.Apply(k, cos, sin);
        if (cache is not null) (k, v) = cache.Append(index, k, v);
        int rep = _cfg.NumHeads / _cfg.NumKeyValueHeads;
        if (rep > 1)
        {
            k = k.repeat_interleave(rep, dim: 1);
            v = v.repeat_interleave(rep, dim: 1);
        }
        var a = AttentionOps.MergeHeads(AttentionOps.Attend(q, k, v, mask, 1.0 / Math.Sqrt(d), _cfg.AttentionDropout, training));
        x = x + o_proj.forward(a);
        return x + mlp.forward(post_norm.forward(x));
    }
}
