using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.Ffn.Variants;

/// <summary>How the selected product-key scores become value weights.</summary>
public enum PkmScoreActivation
{
    /// <summary>Lample et al.'s original: softmax over the selected scores (competitive).</summary>
    Softmax,
    /// <summary>The paper's improved PKM: ReLU (non-competitive, like the dense FFN it approximates).</summary>
    Relu,
}

/// <summary>
/// Config of a product-key memory with N = n_keys² values shared by all heads. The paper's improved PKM is
/// ReLU + a parameter-matched n_keys (<see cref="ParamEqual.PkmKeysForParams"/>) + <c>DenseValueInit</c>.
/// <para>Knn: candidates kept per head (and per half-query search).</para>
/// <para>DenseValueInit: value std ws/√N (the dense-W2 rule with fan-in N, the paper's "+init") instead of ws/√d.</para>
/// </summary>
public sealed record PkmConfig(
    long DModel,
    long NKeys,
    long Heads = 4,
    long Knn = 128,
    PkmScoreActivation ScoreActivation = PkmScoreActivation.Relu,
    bool DenseValueInit = true,
    double WeightStdScale = 1.0) : FfnVariantConfig(DModel, WeightStdScale)
{
    public override void Validate(string where)
    {
        base.Validate(where);
        if (DModel % 2 != 0) throw MlpKitException.Field(where, "d_model", $"must be even for product keys, got {DModel}");
        if (NKeys <= 0) throw MlpKitException.Field(where, "n_keys", $"must be positive, got {NKeys}");
        if (Heads <= 0) throw MlpKitException.Field(where, "heads", $"must be positive, got {Heads}");
        if (Knn <= 0 || Knn > NKeys * NKeys) throw MlpKitException.Field(where, "knn", $"must be in 1..n_keys² ({NKeys * NKeys}), got {Knn}");
    }

    public long NValues => NKeys * NKeys;

    /// <summary>Sub-keys (heads·n_keys·d) and the shared value table (N·d).</summary>
    public long ParameterCount => Heads * NKeys * DModel + NValues * DModel;

    /// <summary>Per head: scoring both halves against n_keys sub-keys (n_keys·d) and the weighted value sum (knn·d).</summary>
    public long MacsPerToken => Heads * (NKeys * DModel + Knn * DModel);
}

/// <summary>
/// Product-key memory as the paper implements it: the query is the layer input itself (no query MLP, no
/// BatchNorm), its two halves are scored against two sub-key tables per head, the top-knn of each half are
/// combined, the top-knn of the knn² sums are kept. The index search runs without gradient; the kept scores are
/// recomputed with gradient, activated (softmax or ReLU over all heads' candidates together) and weight an
/// EmbeddingBag sum over one value table shared by the heads.
/// </summary>
public sealed class PkmFeedForward : FeedForwardVariant
{
    private Parameter keys;
    private EmbeddingBag values;
    private readonly PkmConfig _config;

    public PkmFeedForward(PkmConfig config, string name = "ffn") : base(nameof(PkmFeedForward))
    {
        config.Validate(name);
        _config = config;
        keys = new Parameter(empty(config.Heads, 2, config.NKeys, config.DModel / 2));
        values = nn.EmbeddingBag(config.NValues, config.DModel, mode: EmbeddingBagMode.Sum);
        RegisterComponents();
        var ws = config.WeightStdScale;
        VariantInit.Normal(keys, ws / Math.Sqrt(config.DModel));
        VariantInit.Normal(values.weight!, ws / Math.Sqrt(config.DenseValueInit ? config.NValues : config.DModel));
        _usage = new long[config.NValues];
    }

    public override string VariantName => "pkm";
    public override FfnVariantConfig Config => _config;

    public override Tensor forward(Tensor x)
    {
        _aux = null;
        var shape = x.shape;
        var d = _config.DModel;
        var x2 = x.reshape(-1, d);
        var q1 = x2.narrow(1, 0, d / 2);
        var q2 = x2.narrow(1, d / 2, d / 2);
        var halfKnn = Math.Min(_config.Knn, _config.NKeys);
        var scores = new List<Tensor>();
        var indices = new List<Tensor>();
        for (long h = 0; h < _config.Heads; h++)
        {
            var s1 = q1.mm(keys[h, 0].t());   // [T, n_keys]
            var s2 = q2.mm(keys[h, 1].t());
            Tensor i1, i2;
            using (no_grad())
            {
                var (v1, j1) = s1.topk((int)halfKnn, dim: -1);
                var (v2, j2) = s2.topk((int)halfKnn, dim: -1);
                var all = (v1.unsqueeze(2) + v2.unsqueeze(1)).reshape(-1, halfKnn * halfKnn);
                var best = all.topk((int)_config.Knn, dim: -1).indexes;
                i1 = j1.gather(1, best.div(halfKnn, rounding_mode: RoundingMode.floor));
                i2 = j2.gather(1, best.remainder(halfKnn));
            }
            scores.Add(s1.gather(1, i1) + s2.gather(1, i2));
            indices.Add(i1 * _config.NKeys + i2);
        }
        var score = cat(scores, 1);
        var idx = cat(indices, 1);
        var w = _config.ScoreActivation == PkmScoreActivation.Softmax ? score.softmax(-1) : nn.functional.relu(score);
        using (no_grad())
        {
            var counts = bincount(idx.reshape(-1), minlength: _config.NValues).to(ScalarType.Int64).data<long>().ToArray();
            AddUsage(counts, x2.shape[0]);
        }
        var y = values.forward(idx, null, w.to(values.weight!.dtype));
        return y.reshape(shape);
    }

    public override long MacsPerToken => _config.MacsPerToken;
    public override double NominalComputeFraction => (double)(_config.Heads * _config.Knn) / _config.NValues;
}
