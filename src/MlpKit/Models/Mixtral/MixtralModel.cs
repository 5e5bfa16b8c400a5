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
public sealed class MixtralModel : nn.Module, ICausalLanguageModel
{
    readonly MixtralConfig _cfg;
    private Embedding embed;
    private ModuleList<MixtralLayer> layers;
    private RmsNorm norm;
    private Linear? lm_head;

    public MixtralModel(MixtralConfig cfg, HfConfig? source = null) : base("MixtralForCausalLM")
    {
        var config = source ?? MixtralConfigHf.Create(cfg.VocabSize, cfg.HiddenSize, cfg.NumLayers, cfg.NumHeads, cfg.NumKeyValueHeads,
            cfg.ExpertIntermediateSizes[0][0], cfg.NumExperts, cfg.TopK, cfg.MaxPositions);
        if (source is null)
        {
            config.Set("head_dim", cfg.HeadDim);
            config.Set("rope_theta", cfg.RopeTheta);
            config.Set("rms_norm_eps", cfg.RmsNormEps);
            config.Set("tie_word_embeddings", cfg.TieWordEmbeddings);
            config.Set("sliding_window", cfg.SlidingWindow is long w ? System.Text.Json.Nodes.JsonValue.Create(w) : null);
            config = HfConfigFields.Normalize(config);
        }
        Config = config;
        if (cfg.NumHeads % cfg.NumKeyValueHeads != 0)
            throw new MlpKitException($"config.json: num_key_value_heads: {cfg.NumKeyValueHeads} does not divide num_attention_heads {cfg.NumHeads}");
        if (cfg.HeadDim % 2 != 0)
            throw new MlpKitException($"config.json: head_dim: {cfg.HeadDim} must be even for rotary embeddings");
        _cfg = cfg;
        embed = nn.Embedding(cfg.VocabSize, cfg.HiddenSize);
        layers = new ModuleList<MixtralLayer>(Enumerable.Range(0, cfg.NumLayers).Select(i => new MixtralLayer(cfg, i)).ToArray());
        norm = new RmsNorm(cfg.HiddenSize, cfg.RmsNormEps);
        if (!cfg.TieWordEmbeddings) lm_head = nn.Linear(cfg.HiddenSize, cfg.VocabSize, hasBias: false);
        RegisterComponents();
    }

    public MixtralConfig TypedConfig => _cfg;
    public HfConfig Config { get; }

    public HfConfig ExportConfig()
    {
        var c = HfConfigFields.Clone(Config);
        FfnWidths.WriteExperts(c, layers.Select(l => (IReadOnlyList<long>)l.Moe.Experts.Select(e => e.HiddenDim).ToArray()).ToArray(),
            c.GetLong("intermediate_size"));
        return c;
    }

    public string Architecture => "mixtral";
    public nn.Module Module => this;
    public long VocabSize => _cfg.VocabSize;
    public long HiddenSize => _cfg.HiddenSize;
    public int NumLayers => _cfg.NumLayers;
    public long MaxPositions => _cfg.MaxPositions;
    public IReadOnlyList<IFeedForward> FeedForwards => layers.SelectMany(l => l.Moe.Experts).ToArray();
    public IReadOnlyList<IMoeFeedForward> MoeBlocks => layers.Select(l => (IMoeFeedForward)l.Moe).ToArray();
    public IReadOnlyList<MixtralSparseMoe> SparseMoeBlocks => layers.Select(l => l.Moe).ToArray();

    public KvCache NewCache() => new(_cfg.NumLayers);

    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, KvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        var ids = inputIds.to_type(ScalarType.Int64);
        long t = ids.shape[1];
        long past = cache?.Length ?? 0;
        var x = embed.forward(ids);
        var mask = AttentionOps.CausalMask(t, past, attentionMask, x.dtype, x.device, _cfg.SlidingWindow);
        var (cos, sin) = RotaryEmbedding.Angles(past, t, _cfg.HeadDim, _cfg.RopeTheta, x.dtype, x.device);
        for (int i = 0; i < layers.Count; i++) x = layers[i].forward(x, mask, cos, sin, cache, i);
        x = norm.forward(x);
        var logits = lm_head is null ? nn.functional.linear(x, embed.weight!) : lm_head.forward(x);
        return logits.MoveToOuterDisposeScope();
    }

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
                e.Add(new(n + proj + ".weight", l + "self_attn." + proj + ".weight", ParameterCategory.Attention));
            e.Add(new(n + "post_norm.weight", l + "post_attention_layernorm.weight", ParameterCategory.Other));
            e.Add(new(n + "moe.router.weight", l + "block_sparse_moe.gate.weight", ParameterCategory.Other));
            for (int x = 0; x < _cfg.NumExperts; x++)
            {
                var ex = $"{l}block_sparse_moe.experts.{x}.";
                var nx = $"{n}moe.experts.{x}.";
                e.Add(new(nx + "gate.weight", ex + "w1.weight", ParameterCategory.Experts));
                e.Add(new(nx + "up.weight", ex + "w3.weight", ParameterCategory.Experts));
                e.Add(new(nx + "down.weight", ex + "w2.weight", ParameterCategory.Experts));
            }
        }
        e.Add(new("norm.weight", p + "norm.weight", ParameterCategory.Other));
        var ignored = new List<string> { @"rotary_emb\.inv_freq$" };
        if (lm_head is not null) e.Add(new("lm_head.weight", "lm_head.weight", ParameterCategory.Embeddings));
        else ignored.Add(@"^lm_head\.weight$");
        return new TensorNameMap(Architecture, e, new[] { p }, ignored);
    }

    public ParameterCounts CountParameters() => ParameterCounts.From(HfTensorBinding.Count(this, NameMap()));

    public MlpFlops MlpFlopsPerToken() => MlpFlops.Compute(Array.Empty<IFeedForward>(), MoeBlocks);
}

/// <summary>x + Attn(RMSNorm x), then x + MoE(RMSNorm x).</summary>
public sealed class MixtralLayer : nn.Module
{
    private RmsNorm input_norm;
    private Linear q_proj;
    private Linear k_proj;
    private Linear v_proj;
    private Linear o_proj;
    private RmsNorm post_norm;
    private MixtralSparseMoe moe;
    readonly MixtralConfig _cfg;

    public MixtralLayer(MixtralConfig cfg, int index) : base($"layer{index}")
    {
        _cfg = cfg;
        long h = cfg.HiddenSize, d = cfg.HeadDim;
        input_norm = new RmsNorm(h, cfg.RmsNormEps);
        q_proj = nn.Linear(h, cfg.NumHeads * d, hasBias: false);
        k_proj = nn.Linear(h, cfg.NumKeyValueHeads * d, hasBias: false);
        v_proj = nn.Linear(h, cfg.NumKeyValueHeads * d, hasBias: false);
        o_proj = nn.Linear(cfg.NumHeads * d, h, hasBias: false);
        post_norm = new RmsNorm(h, cfg.RmsNormEps);
        moe = new MixtralSparseMoe($"layers.{index}.moe", h, cfg.ExpertIntermediateSizes[index], cfg.TopK);
        RegisterComponents();
    }

    public MixtralSparseMoe Moe => moe;

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
        return x + moe.forward(post_norm.forward(x));
    }
}
