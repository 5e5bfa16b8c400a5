using MlpKit.Checkpoints;
using MlpKit.Ffn;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.Models.Bert;

/// <summary>
/// BERT / RoBERTa post-LN encoder with the Hugging Face equations (modeling_bert.py, modeling_roberta.py),
/// plus the sequence-classification heads: BERT's tanh pooler + linear classifier, RoBERTa's
/// classifier.dense → tanh → classifier.out_proj on the first token. Dropout is omitted (inference math;
/// fine-tuning code adds its own regularisation).
/// </summary>
public sealed class BertModel : TransformerModel, IEncoderModel
{
    readonly BertConfig _cfg;
    private Embedding word;
    private Embedding position;
    private Embedding token_type;
    private LayerNorm emb_norm;
    private ModuleList<BertLayer> layers;
    private Linear? pooler;
    private Linear? classifier;
    private Linear? head_dense;
    private Linear? head_out;

    public BertModel(BertConfig cfg, HfConfig? source = null) : base(cfg.Roberta ? "RobertaModel" : "BertModel",
        source ?? BertConfigHf.Create(cfg.Roberta, cfg.VocabSize, cfg.HiddenSize, cfg.NumLayers, cfg.NumHeads,
            cfg.IntermediateSizes[0], cfg.Roberta ? cfg.MaxPositions - 2 : cfg.MaxPositions, cfg.NumLabels),
        cfg.VocabSize, cfg.HiddenSize, cfg.NumLayers)
    {
        if (cfg.HiddenSize % cfg.NumHeads != 0)
            throw new MlpKitException($"config.json: hidden_size: {cfg.HiddenSize} is not a multiple of num_attention_heads {cfg.NumHeads}");
        _cfg = cfg;
        word = nn.Embedding(cfg.VocabSize, cfg.HiddenSize);
        position = nn.Embedding(cfg.MaxPositions, cfg.HiddenSize);
        token_type = nn.Embedding(cfg.TypeVocabSize, cfg.HiddenSize);
        emb_norm = nn.LayerNorm(cfg.HiddenSize, cfg.LayerNormEps);
        layers = new ModuleList<BertLayer>(Enumerable.Range(0, cfg.NumLayers)
            .Select(i => new BertLayer(cfg, i, cfg.IntermediateSizes[i])).ToArray());
        if (cfg.HasPooler) pooler = nn.Linear(cfg.HiddenSize, cfg.HiddenSize);
        if (cfg.NumLabels > 0)
        {
            if (cfg.Roberta)
            {
                head_dense = nn.Linear(cfg.HiddenSize, cfg.HiddenSize);
                head_out = nn.Linear(cfg.HiddenSize, cfg.NumLabels);
            }
            else
            {
                if (!cfg.HasPooler) throw new MlpKitException("config.json: a BERT classification head needs the pooler");
                classifier = nn.Linear(cfg.HiddenSize, cfg.NumLabels);
            }
        }
        RegisterComponents();
    }

    public BertConfig TypedConfig => _cfg;
    public override string Architecture => _cfg.Architecture;
    public int NumLabels => _cfg.NumLabels;
    public override IReadOnlyList<IFeedForward> FeedForwards => layers.Select(l => (IFeedForward)l.Mlp).ToArray();

    public Tensor Encode(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null)
    {
        using var scope = NewDisposeScope();
        var ids = inputIds.to_type(ScalarType.Int64);
        var (b, t) = (ids.shape[0], ids.shape[1]);
        Tensor positions;
        if (_cfg.Roberta)
        {
            // create_position_ids_from_input_ids: padding keeps padding_idx, real tokens count up from padding_idx + 1
            var notPad = ids.ne(_cfg.PadTokenId).to_type(ScalarType.Int64);
            positions = notPad.cumsum(1) * notPad + _cfg.PadTokenId;
        }
        else positions = arange(t, dtype: ScalarType.Int64, device: ids.device).unsqueeze(0).expand(b, t);
        if (positions.max().item<long>() >= _cfg.MaxPositions)
            throw new MlpKitException($"input of {t} tokens needs position {positions.max().item<long>()}, beyond max_position_embeddings {_cfg.MaxPositions}");
        var types = tokenTypeIds?.to_type(ScalarType.Int64) ?? zeros_like(ids);
        var x = word.forward(ids) + token_type.forward(types) + position.forward(positions);
        x = AttentionOps.Dropout(emb_norm.forward(x), _cfg.HiddenDropout, training);
        var mask = attentionMask is null ? null : AttentionOps.PaddingMask(attentionMask, x.dtype);
        foreach (var layer in layers) x = layer.forward(x, mask);
        return x.MoveToOuterDisposeScope();
    }

    public Tensor Classify(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null)
    {
        if (_cfg.NumLabels == 0)
            throw new MlpKitException($"this {Architecture} model has no sequence-classification head (config.json architectures does not name *ForSequenceClassification)");
        using var scope = NewDisposeScope();
        var first = Encode(inputIds, attentionMask, tokenTypeIds).select(1, 0);
        double p = _cfg.ClassifierDropout;
        var logits = _cfg.Roberta
            ? head_out!.forward(AttentionOps.Dropout(head_dense!.forward(AttentionOps.Dropout(first, p, training)).tanh(), p, training))
            : classifier!.forward(AttentionOps.Dropout(pooler!.forward(first).tanh(), p, training));
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>BERT's pooler output tanh(W h₀ + b) [batch, hidden].</summary>
    public Tensor Pool(Tensor lastHidden)
    {
        if (pooler is null) throw new MlpKitException($"this {Architecture} model has no pooler");
        return pooler.forward(lastHidden.select(1, 0)).tanh();
    }

    public override TensorNameMap NameMap()
    {
        // transformers' convention: BertModel/RobertaModel save bare names ("embeddings.…"), the task models
        // prefix the base model ("bert.embeddings.…"); both forms are read either way.
        var p = _cfg.NumLabels > 0 ? _cfg.Prefix : "";
        var e = new List<TensorMapping>
        {
            new("word.weight", p + "embeddings.word_embeddings.weight", ParameterCategory.Embeddings),
            new("position.weight", p + "embeddings.position_embeddings.weight", ParameterCategory.Embeddings),
            new("token_type.weight", p + "embeddings.token_type_embeddings.weight", ParameterCategory.Embeddings),
        };
        AddNorm(e, "emb_norm", p + "embeddings.LayerNorm");
        for (int i = 0; i < _cfg.NumLayers; i++)
        {
            var l = $"{p}encoder.layer.{i}.";
            var n = $"layers.{i}.";
            foreach (var (mine, hf) in new[] { ("query", "attention.self.query"), ("key", "attention.self.key"),
                         ("value", "attention.self.value"), ("attn_out", "attention.output.dense") })
            {
                e.Add(new(n + mine + ".weight", l + hf + ".weight", ParameterCategory.Attention));
                e.Add(new(n + mine + ".bias", l + hf + ".bias", ParameterCategory.Attention));
            }
            AddNorm(e, n + "attn_norm", l + "attention.output.LayerNorm");
            e.Add(new(n + "mlp.up.weight", l + "intermediate.dense.weight", ParameterCategory.Mlp));
            e.Add(new(n + "mlp.up.bias", l + "intermediate.dense.bias", ParameterCategory.Mlp));
            e.Add(new(n + "mlp.down.weight", l + "output.dense.weight", ParameterCategory.Mlp));
            e.Add(new(n + "mlp.down.bias", l + "output.dense.bias", ParameterCategory.Mlp));
            AddNorm(e, n + "mlp_norm", l + "output.LayerNorm");
        }
        if (pooler is not null)
        {
            // Masked-LM checkpoints carry no pooler; HF then leaves it at its initial values, and so do we.
            e.Add(new("pooler.weight", p + "pooler.dense.weight", ParameterCategory.Other, Optional: _cfg.NumLabels == 0));
            e.Add(new("pooler.bias", p + "pooler.dense.bias", ParameterCategory.Other, Optional: _cfg.NumLabels == 0));
        }
        if (classifier is not null)
        {
            e.Add(new("classifier.weight", "classifier.weight", ParameterCategory.Other));
            e.Add(new("classifier.bias", "classifier.bias", ParameterCategory.Other));
        }
        if (head_dense is not null)
        {
            e.Add(new("head_dense.weight", "classifier.dense.weight", ParameterCategory.Other));
            e.Add(new("head_dense.bias", "classifier.dense.bias", ParameterCategory.Other));
            e.Add(new("head_out.weight", "classifier.out_proj.weight", ParameterCategory.Other));
            e.Add(new("head_out.bias", "classifier.out_proj.bias", ParameterCategory.Other));
        }
        var ignored = new List<string>
        {
            @"(^|\.)embeddings\.position_ids$",   // a buffer older checkpoints stored
            @"^cls\.",                            // BERT pre-training heads
            @"^lm_head\.",                        // RoBERTa masked-LM head
        };
        if (pooler is null) ignored.Add(@"^(bert\.|roberta\.)?pooler\.");
        return new TensorNameMap(Architecture, e, new[] { _cfg.Prefix }, ignored);
    }

    // Original TF-converted checkpoints name LayerNorm parameters gamma/beta.
    static void AddNorm(List<TensorMapping> e, string mine, string hf)
    {
        e.Add(new(mine + ".weight", hf + ".weight", ParameterCategory.Other, Aliases: new[] { hf + ".gamma" }));
        e.Add(new(mine + ".bias", hf + ".bias", ParameterCategory.Other, Aliases: new[] { hf + ".beta" }));
    }

}

/// <summary>One post-LN encoder layer: LN(x + Attn(x)), then LN(h + FFN(h)).</summary>
public sealed class BertLayer : nn.Module
{
    private Linear query;
    private Linear key;
    private Linear value;
    private Linear attn_out;
    private LayerNorm attn_norm;
    private DenseFeedForward mlp;
    private LayerNorm mlp_norm;
    readonly long _heads;
    readonly BertConfig _cfg;

    public BertLayer(BertConfig cfg, int index, long intermediate) : base($"layer{index}")
    {
        long h = cfg.HiddenSize;
        _heads = cfg.NumHeads;
        _cfg = cfg;
        query = nn.Linear(h, h);
        key = nn.Linear(h, h);
        value = nn.Linear(h, h);
        attn_out = nn.Linear(h, h);
        attn_norm = nn.LayerNorm(h, cfg.LayerNormEps);
        mlp = new DenseFeedForward($"layers.{index}.mlp", h, intermediate, h, cfg.Activation);
        mlp_norm = nn.LayerNorm(h, cfg.LayerNormEps);
        RegisterComponents();
    }

    public DenseFeedForward Mlp => mlp;

    public Tensor forward(Tensor x, Tensor? additiveMask) => LayerScope.Run(() =>
    {
        var q = AttentionOps.SplitHeads(query.forward(x), _heads);
        var k = AttentionOps.SplitHeads(key.forward(x), _heads);
        var v = AttentionOps.SplitHeads(value.forward(x), _heads);
        var ctx = AttentionOps.MergeHeads(AttentionOps.Attend(q, k, v, additiveMask, 1.0 / Math.Sqrt(q.shape[3]), _cfg.AttentionDropout, training));
        var h = attn_norm.forward(AttentionOps.Dropout(attn_out.forward(ctx), _cfg.HiddenDropout, training) + x);
        return mlp_norm.forward(AttentionOps.Dropout(mlp.forward(h), _cfg.HiddenDropout, training) + h);
    });
}
