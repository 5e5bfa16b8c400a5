using MlpKit.Embeddings;
using MlpKit.Ffn;
using MlpKit.Models;
using MlpKit.Tokenizers;
using static TorchSharp.torch;

namespace MlpKit.Compression;

/// <summary>A batch of examples in the form the wrapped model takes: ids [B, T] plus a validity mask [B, T] (1 = real token).</summary>
public sealed record ModelBatch(Tensor Ids, Tensor Mask, int Count);

/// <summary>How a line of an examples file is read: as text for the model's tokenizer, or as whitespace-separated token ids.</summary>
public enum ExampleFormat { Auto, Text, Ids }

/// <summary>
/// The few things compression and the NTK meter need from a model of any architecture: its feed-forward blocks, a
/// batch builder, one representation vector per example (the model's real output), and saving.
/// </summary>
public sealed class CompressibleModel : IDisposable
{
    readonly ITransformerModel _model;

    CompressibleModel(string source, ITransformerModel model, string? dir)
    {
        Source = source; _model = model;
        if (dir is not null && model is not ISentenceEmbeddingModel)
        {
            Tokenizer = TokenizerFactory.TryLoad(dir);
            if (model is IEncoderModel { NumLabels: 0 }) Pooling = SentencePooling.TryLoad(dir);
        }
    }

    public string Source { get; }
    public string Kind => _model.Architecture;

    /// <summary>The model's tokenizer (from its folder), or null when it ships none (a sentence-embedding model tokenizes itself).</summary>
    public ITextTokenizer? Tokenizer { get; }

    /// <summary>The sentence-transformers pooling of an encoder without a task head, or null.</summary>
    public SentencePooling? Pooling { get; }

    public bool TakesText => _model is ISentenceEmbeddingModel || Tokenizer is not null;

    /// <summary>What <see cref="Represent"/> returns, for reports.</summary>
    public string OutputKind => _model switch
    {
        ISentenceEmbeddingModel => $"sentence embedding ({Kind}'s own)",
        IEncoderModel enc => enc.NumLabels > 0 ? "classification logits"
            : Pooling is { } p ? $"sentence embedding ({p.Mode.ToString().ToLowerInvariant()} pooling{(p.Normalize ? ", normalized" : "")})"
            : "first-token hidden state",
        _ => "next-token logits at the last position",
    };

    /// <summary>Dense blocks first (in layer order), then MoE experts, as the model lists them.</summary>
    public IReadOnlyList<IFeedForward> Blocks => _model.FeedForwards;
    public IReadOnlyList<IMoeFeedForward> MoeBlocks => _model.MoeBlocks;
    public long VocabSize => _model.VocabSize;
    public nn.Module Module => _model.Module;

    /// <summary>A named model (fetched on first use) or a model directory of any architecture: see <see cref="ModelSource"/>.</summary>
    public static CompressibleModel Load(string spec) => new(spec, ModelSource.Load(spec), ModelSource.Directory(spec));

    /// <summary>
    /// Wraps a model that is already loaded (fine-tuning compresses the encoder it then trains). Disposing the
    /// wrapper disposes the model, so a caller that keeps the model simply does not dispose the wrapper.
    /// </summary>
    public static CompressibleModel Wrap(string source, ITransformerModel model) =>
        new(source, model, ModelSource.DirectoryOrNull(source));

    /// <summary>A batch from token ids the caller's own tokenizer produced (an empty sequence becomes one id 0).</summary>
    public static ModelBatch FromTokenIds(IEnumerable<int[]> sequences) =>
        FromSequences(sequences.Select(s => s.Length == 0 ? new[] { 0 } : s).ToList());

    /// <summary>
    /// Examples from lines: text, tokenized by the model's tokenizer (with its special tokens, cut to
    /// <paramref name="maxTokens"/>), or whitespace-separated token ids. <see cref="ExampleFormat.Auto"/> reads
    /// text when the model has a tokenizer and ids otherwise.
    /// </summary>
    public ModelBatch MakeBatch(IReadOnlyList<string> lines, string file, ExampleFormat format = ExampleFormat.Auto, int maxTokens = 128)
    {
        if (lines.Count == 0) throw new MlpKitException($"{file}: no examples (empty file)");
        if (format == ExampleFormat.Auto) format = TakesText ? ExampleFormat.Text : ExampleFormat.Ids;
        List<int[]> seqs;
        if (format == ExampleFormat.Text)
        {
            if (_model is ISentenceEmbeddingModel own) seqs = lines.Select(own.Tokenize).ToList();
            else if (Tokenizer is null)
                throw new MlpKitException($"{file}: text examples need a tokenizer, and the model folder {Source} has none (vocab.txt, vocab.json + merges.txt or tokenizer.json); give token ids instead");
            else
            {
                int limit = _model is ICausalLanguageModel lm ? (int)Math.Min(maxTokens, lm.MaxPositions) : maxTokens;
                seqs = lines.Select(l => _model is IEncoderModel ? Tokenizer.EncodePair(l, null, limit).Ids : Tokenizer.Encode(l).Take(limit).ToArray()).ToList();
            }
        }
        else
            seqs = lines.Select((l, i) =>
            {
                var parts = l.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                var ids = new int[parts.Length];
                for (int j = 0; j < parts.Length; j++)
                    if (!int.TryParse(parts[j], out ids[j]) || ids[j] < 0 || ids[j] >= VocabSize)
                        throw MlpKitException.Field(file, $"line {i + 1}", $"expected token ids in [0, {VocabSize}), got '{parts[j]}' (the examples are read as token ids, one example per line)");
                return ids;
            }).ToList();
        return FromSequences(seqs.Select(s => s.Length == 0 ? new[] { 0 } : s).ToList());
    }

    /// <summary>Random token sequences (seeded) when no calibration file is given.</summary>
    public ModelBatch RandomBatch(int count, int length, long seed)
    {
        var rng = new Random((int)(seed & 0x7FFFFFFF));
        var seqs = Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, length).Select(_ => rng.Next((int)Math.Min(VocabSize, int.MaxValue))).ToArray()).ToList();
        return FromSequences(seqs);
    }

    static ModelBatch FromSequences(List<int[]> seqs)
    {
        var (ids, lengths) = TokenBatch.Pad(seqs);
        var mask = TokenBatch.Mask(lengths, ids.shape[1]);
        return new ModelBatch(ids, mask, seqs.Count);
    }

    public ModelBatch Slice(ModelBatch b, int start, int count) =>
        new(b.Ids.narrow(0, start, count), b.Mask.narrow(0, start, count), count);

    /// <summary>
    /// One vector per example, the model's real output: a sentence-embedding model's own embedding; an encoder's classification
    /// logits when it has a head, else its pooled sentence embedding when its folder declares sentence-transformers
    /// pooling, else its first-token hidden state; a causal LM's last-position logits.
    /// </summary>
    public Tensor Represent(ModelBatch b)
    {
        switch (_model)
        {
            case ISentenceEmbeddingModel own:
                return own.EmbedIds(b.Ids, b.Mask);
            case IEncoderModel enc:
                if (enc.NumLabels > 0) return enc.Classify(b.Ids, b.Mask);
                var hidden = enc.Encode(b.Ids, b.Mask);
                return Pooling is { } p ? Embeddings.Pooling.Pool(hidden, b.Mask, p.Mode, p.Normalize) : hidden.select(1, 0);
            case ICausalLanguageModel lm:
                var logits = lm.Forward(b.Ids, b.Mask);
                var last = (b.Mask.sum(1) - 1).clamp_min(0);
                return logits[arange(b.Count), last];
            default:
                throw new MlpKitException($"{Source}: model kind {Kind} has no representation for compression metrics");
        }
    }

    /// <summary>Writes a checkpoint the usual loader reads back (widths recorded in the config by the model).</summary>
    public void Save(string dir) => ModelZoo.Save(_model, dir);

    public void Dispose() => _model.Dispose();
}
