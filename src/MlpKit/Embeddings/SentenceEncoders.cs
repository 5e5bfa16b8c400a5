using MlpKit.Models;
using MlpKit.Tokenizers;

namespace MlpKit.Embeddings;

/// <summary>A loaded sentence encoder and the model it owns.</summary>
public sealed class OpenSentenceEncoder(ITransformerModel model, ISentenceEncoder encoder, string description) : IDisposable
{
    public ITransformerModel Model { get; } = model;
    public ISentenceEncoder Encoder { get; } = encoder;
    /// <summary>e.g. "mean pooling, normalized, 256 tokens".</summary>
    public string Description { get; } = description;
    public void Dispose() => Model.Dispose();
}

/// <summary>
/// Opens any model of the zoo or a named one as a sentence encoder: a model that embeds sentences itself
/// (USE-Lite) as it is; an encoder with its tokenizer and the pooling of its sentence-transformers files, or,
/// without those, mean pooling over 512 tokens. A given pooling mode or normalize flag overrides the declared one.
/// </summary>
public static class SentenceEncoders
{
    public static OpenSentenceEncoder Open(string spec, PoolingMode? mode = null, bool? normalize = null)
    {
        var dir = ModelSource.Directory(spec);
        var model = ModelSource.Load(spec);
        try
        {
            if (model is ISentenceEncoder own)
            {
                if (mode is not null || normalize is not null)
                    throw new MlpKitException($"--model {spec}: a {model.Architecture} model pools with its own sentence encoder; --pooling and --normalize do not apply");
                return new OpenSentenceEncoder(model, own, $"{model.Architecture}'s own sentence encoder");
            }
            if (model is not IEncoderModel encoder)
                throw new MlpKitException($"--model {spec}: a {model.Architecture} model is not a sentence encoder (embed takes BERT/RoBERTa encoders and USE-Lite)");
            var declared = SentencePooling.TryLoad(dir) ?? new SentencePooling(PoolingMode.Mean, false, 512);
            var pooling = declared with { Mode = mode ?? declared.Mode, Normalize = normalize ?? declared.Normalize };
            var tokenizer = TokenizerFactory.Load(dir);
            var text = $"{pooling.Mode.ToString().ToLowerInvariant()} pooling{(pooling.Normalize ? ", normalized" : "")}, up to {pooling.MaxSeqLength} tokens";
            return new OpenSentenceEncoder(model, new PooledSentenceEncoder(encoder, tokenizer, pooling), text);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
