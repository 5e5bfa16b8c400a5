using MlpKit.Checkpoints;
using MlpKit.Ffn;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.Models.Gpt2;

/// <summary>
/// GPT-2 pre-LN decoder with the LM head tied to the token embedding (modeling_gpt2.py). The checkpoint's
/// Conv1D weights are [in, out]; they are kept here as [out, in] (nn.Linear / the FFN layout) and transposed
/// on load and save by the name map.
/// </summary>
public sealed class Gpt2Model : TransformerModel, ICausalLanguageModel
{
    readonly Gpt2Config _cfg;
    private Embedding wte;
    private Embedding wpe;
    private ModuleList<Gpt2Block> layers;
    private LayerNorm ln_f;

    public Gpt2Model(Gpt2Config cfg, HfConfig? source = null) : base("GPT2LMHeadModel",
        source ?? Gpt2ConfigHf.Create(cfg.VocabSize, cfg.HiddenSize, cfg.NumLayers, cfg.NumHeads, cfg.MaxPositions, cfg.IntermediateSizes[0]),
        cfg.VocabSize, cfg.HiddenSize, cfg.NumLayers)
    {
        if (cfg.HiddenSize % cfg.NumHeads != 0)
            throw new MlpKitException($"config.json: n_embd: {cfg.HiddenSize} is not a multiple of n_head {cfg.NumHeads}");
        _cfg = cfg;
        wte = nn.Embedding(cfg.VocabSize, cfg.HiddenSize);
        wpe = nn.Embedding(cfg.MaxPositions, cfg.HiddenSize);
        layers = new ModuleList<Gpt2Block>(Enumerable.Range(0, cfg.NumLayers)
            .Select(i => new Gpt2Block(cfg, i, cfg.IntermediateSizes[i])).ToArray());
        ln_f = nn.LayerNorm(cfg.HiddenSize, cfg.LayerNormEps);
        RegisterComponents();
    }

    public Gpt2Config TypedConfig => _cfg;
    protected override long UniformWidth(HfConfig config) => Gpt2ConfigHf.UniformWidth(config);

    public override string Architecture => "gpt2";
    public long MaxPositions => _cfg.MaxPositions;
    public override IReadOnlyList<IFeedForward> FeedForwards => layers.Select(l => (IFeedForward)l.Mlp).ToArray();

    public KvCache NewCache() => new(_cfg.NumLayers);

    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, KvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        var ids = inputIds.to_type(ScalarType.Int64);
        long t = ids.shape[1];
        long past = cache?.Length ?? 0;
        if (past + t > _cfg.MaxPositions)
            throw new MlpKitException($"sequence of {past + t} tokens exceeds n_positions {_cfg.MaxPositions}");
        var positions = arange(past, past + t, dtype: ScalarType.Int64, device: ids.device).unsqueeze(0);
        var x = AttentionOps.Dropout(wte.forward(ids) + wpe.forward(positions), _cfg.EmbdDropout, training);
        var mask = AttentionOps.CausalMask(t, past, attentionMask, x.dtype, x.device);
        for (int i = 0; i < layers.Count; i++) x = layers[i].forward(x, mask, cache, i);
        x = ln_f.forward(x);
        return nn.functional.linear(x, wte.weight!).MoveToOuterDisposeScope();
    }

    public override TensorNameMap NameMap()
    {
        const string p = "transformer.";
        var e = new List<TensorMapping>
        {
            new("wte.weight", p + "wte.weight", ParameterCategory.Embeddings),
            new("wpe.weight", p + "wpe.weight", ParameterCategory.Embeddings),
        };
        for (int i = 0; i < _cfg.NumLayers; i++)
        {
            var l = $"{p}h.{i}.";
            var n = $"layers.{i}.";
            // Weight and bias of each part; GPT-2's Conv1D weights are [in, out] on disk, hence the transposes.
            void Add(string ours, string hf, ParameterCategory c, bool conv = false)
            {
                e.Add(new(n + ours + ".weight", l + hf + ".weight", c, Transpose: conv));
                e.Add(new(n + ours + ".bias", l + hf + ".bias", c));
            }
            Add("ln_1", "ln_1", ParameterCategory.Other);
            Add("c_attn", "attn.c_attn", ParameterCategory.Attention, conv: true);
            Add("c_proj", "attn.c_proj", ParameterCategory.Attention, conv: true);
            Add("ln_2", "ln_2", ParameterCategory.Other);
            Add("mlp.up", "mlp.c_fc", ParameterCategory.Mlp, conv: true);
            Add("mlp.down", "mlp.c_proj", ParameterCategory.Mlp, conv: true);
        }
        e.Add(new("ln_f.weight", p + "ln_f.weight", ParameterCategory.Other));
        e.Add(new("ln_f.bias", p + "ln_f.bias", ParameterCategory.Other));
        var ignored = new[]
        {
            @"^lm_head\.weight$",                    // tied to wte
            @"\.attn\.(bias|masked_bias)$",          // causal-mask buffers of older checkpoints
        };
        return new TensorNameMap(Architecture, e, new[] { p }, ignored);
    }

}

/// <summary>x + Attn(LN₁ x), then x + FFN(LN₂ x).</summary>
public sealed class Gpt2Block : nn.Module
{
    private LayerNorm ln_1;
    private Linear c_attn;
    private Linear c_proj;
    private LayerNorm ln_2;
    private DenseFeedForward mlp;
    readonly long _heads;
    readonly long _hidden;
    readonly bool _scale;
    readonly Gpt2Config _cfg;

    public Gpt2Block(Gpt2Config cfg, int index, long intermediate) : base($"h{index}")
    {
        _hidden = cfg.HiddenSize;
        _heads = cfg.NumHeads;
        _scale = cfg.ScaleAttnWeights;
        _cfg = cfg;
        ln_1 = nn.LayerNorm(_hidden, cfg.LayerNormEps);
        c_attn = nn.Linear(_hidden, 3 * _hidden);
        c_proj = nn.Linear(_hidden, _hidden);
        ln_2 = nn.LayerNorm(_hidden, cfg.LayerNormEps);
        mlp = new DenseFeedForward($"layers.{index}.mlp", _hidden, intermediate, _hidden, cfg.Activation);
        RegisterComponents();
    }

    public DenseFeedForward Mlp => mlp;

    public Tensor forward(Tensor x, Tensor mask, KvCache? cache, int index) => LayerScope.Run(() =>
    {
        var qkv = c_attn.forward(ln_1.forward(x)).split(_hidden, 2);
        var q = AttentionOps.SplitHeads(qkv[0], _heads);
        var k = AttentionOps.SplitHeads(qkv[1], _heads);
        var v = AttentionOps.SplitHeads(qkv[2], _heads);
        if (cache is not null) (k, v) = cache.Append(index, k, v);
        var scale = _scale ? 1.0 / Math.Sqrt(q.shape[3]) : 1.0;
        var a = AttentionOps.MergeHeads(AttentionOps.Attend(q, k, v, mask, scale, _cfg.AttnDropout, training));
        var h = x + AttentionOps.Dropout(c_proj.forward(a), _cfg.ResidDropout, training);
        return h + AttentionOps.Dropout(mlp.forward(ln_2.forward(h)), _cfg.ResidDropout, training);
    });
}
