using MlpKit.Checkpoints;
using MlpKit.Ffn;
using static TorchSharp.torch;

namespace MlpKit.Models;

/// <summary>
/// What every zoo model offers, whatever its architecture: its feed-forward blocks through the common
/// contract, its Hugging Face name map, and the size figures `mlpkit info` prints.
/// </summary>
public interface ITransformerModel : IDisposable
{
    /// <summary>The registry name: "bert", "roberta", "gpt2" or "mixtral".</summary>
    string Architecture { get; }

    /// <summary>The config.json the model was built from (unchanged by later edits; see <see cref="ExportConfig"/>).</summary>
    HfConfig Config { get; }

    /// <summary>
    /// A copy of <see cref="Config"/> describing the model as it is now: per-layer FFN widths are written to
    /// mlpkit_intermediate_sizes / mlpkit_expert_intermediate_sizes when compression made them differ.
    /// </summary>
    HfConfig ExportConfig();

    /// <summary>The module holding all parameters (for optimisers, .to(device), train/eval).</summary>
    nn.Module Module { get; }

    long VocabSize { get; }
    long HiddenSize { get; }
    int NumLayers { get; }

    /// <summary>Every dense feed-forward block and every expert, in layer order.</summary>
    IReadOnlyList<IFeedForward> FeedForwards { get; }

    /// <summary>The Mixture-of-Experts blocks (empty for dense models).</summary>
    IReadOnlyList<IMoeFeedForward> MoeBlocks { get; }

    /// <summary>The map between parameters and checkpoint tensor names; rebuilt on each call, so it follows resized blocks.</summary>
    TensorNameMap NameMap();

    ParameterCounts CountParameters();

    MlpFlops MlpFlopsPerToken();
}

/// <summary>An encoder (BERT, RoBERTa): hidden states and, when the checkpoint has one, a sequence-classification head.</summary>
public interface IEncoderModel : ITransformerModel
{
    /// <summary>Number of classes of the sequence-classification head, or 0 when there is none.</summary>
    int NumLabels { get; }

    /// <summary>Last hidden state [batch, seq, hidden] for token ids [batch, seq] (mask: 1 = token, 0 = padding).</summary>
    Tensor Encode(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null);

    /// <summary>Class logits [batch, labels] from the sequence-classification head.</summary>
    Tensor Classify(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null);
}

/// <summary>A causal language model (GPT-2, Mixtral) that can run incrementally with a <see cref="KvCache"/>.</summary>
public interface ICausalLanguageModel : ITransformerModel
{
    long MaxPositions { get; }

    /// <summary>
    /// Logits [batch, seq, vocab] for token ids [batch, seq]. With a cache, the ids continue the cached
    /// sequence and the cache grows by seq positions; attentionMask then covers cached + new positions.
    /// </summary>
    Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, KvCache? cache = null);

    /// <summary>A fresh, empty cache sized for this model.</summary>
    KvCache NewCache();
}

/// <summary>Parameter counts split the way `mlpkit info` reports them; tied weights are counted once.</summary>
public sealed record ParameterCounts(long Embeddings, long Attention, long Mlp, long Experts, long Other)
{
    public long Total => Embeddings + Attention + Mlp + Experts + Other;

    internal static ParameterCounts From(IReadOnlyDictionary<ParameterCategory, long> c) =>
        new(c[ParameterCategory.Embeddings], c[ParameterCategory.Attention], c[ParameterCategory.Mlp],
            c[ParameterCategory.Experts], c[ParameterCategory.Other]);
}

/// <summary>
/// Floating-point operations per token in the feed-forward parts (a multiply-add counts 2; biases and
/// activations are not counted). For MoE blocks the experts term is the expected cost under uniform routing:
/// top-k times the mean expert cost, plus the router's projection.
/// </summary>
public sealed record MlpFlops(long Dense, long Router, double ActiveExperts)
{
    public double Total => Dense + Router + ActiveExperts;

    public static long Of(IFeedForward f) =>
        2 * (f.InputDim * f.HiddenDim * (f.IsGated ? 2 : 1) + f.HiddenDim * f.OutputDim);

    internal static MlpFlops Compute(IEnumerable<IFeedForward> dense, IReadOnlyList<IMoeFeedForward> moe)
    {
        long d = dense.Sum(Of);
        long r = moe.Sum(m => 2 * m.RouterWeight.shape[0] * m.RouterWeight.shape[1]);
        double e = moe.Sum(m => m.TopK * m.Experts.Average(x => (double)Of(x)));
        return new MlpFlops(d, r, e);
    }
}
