using MlpKit.Checkpoints;
using MlpKit.Ffn;
using static TorchSharp.torch;

namespace MlpKit.Models;

/// <summary>
/// What the zoo's Hugging Face-layout models share as a typed module: the config they were built from, their sizes,
/// parameter counts and FLOPs from their name map, and the exported config with per-layer FFN widths. A model class
/// supplies its architecture name, feed-forward blocks and name map.
/// </summary>
public abstract class TransformerModel : nn.Module, ITransformerModel
{
    protected TransformerModel(string name, HfConfig config, long vocabSize, long hiddenSize, int numLayers) : base(name)
    {
        Config = config;
        VocabSize = vocabSize;
        HiddenSize = hiddenSize;
        NumLayers = numLayers;
    }

    public HfConfig Config { get; }
    public abstract string Architecture { get; }
    public nn.Module Module => this;
    public long VocabSize { get; }
    public long HiddenSize { get; }
    public int NumLayers { get; }
    public abstract IReadOnlyList<IFeedForward> FeedForwards { get; }
    public virtual IReadOnlyList<IMoeFeedForward> MoeBlocks => [];
    public abstract TensorNameMap NameMap();

    /// <summary>The config's uniform FFN width (the field per-layer widths are compared against).</summary>
    protected virtual long UniformWidth(HfConfig config) => config.GetLong("intermediate_size");

    /// <summary>A copy of <see cref="Config"/> with per-layer widths written where compression made them differ.</summary>
    public virtual HfConfig ExportConfig()
    {
        var c = HfConfigFields.Clone(Config);
        FfnWidths.WriteLayers(c, FeedForwards.Select(f => f.HiddenDim).ToArray(), UniformWidth(c));
        return c;
    }

    public ParameterCounts CountParameters() => ParameterCounts.From(HfTensorBinding.Count(this, NameMap()));

    public virtual MlpFlops MlpFlopsPerToken() => MlpFlops.Compute(FeedForwards, MoeBlocks);
}
