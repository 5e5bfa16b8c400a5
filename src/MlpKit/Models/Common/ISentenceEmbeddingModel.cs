using MlpKit.Embeddings;
using static TorchSharp.torch;

namespace MlpKit.Models;

/// <summary>
/// A model whose own output is one vector per text (USE-Lite): it tokenizes text itself, and has neither hidden
/// states to pool nor a task head. Compression measures this vector; fine-tuning puts a linear head on it.
/// </summary>
public interface ISentenceEmbeddingModel : ITransformerModel, ISentenceEncoder
{
    /// <summary>Width of the embeddings.</summary>
    int EmbeddingDim { get; }

    /// <summary>The ids the model reads for one text, cut to its window.</summary>
    int[] Tokenize(string text);

    /// <summary>Embeddings [B, dim] for padded ids [B, T] and their mask [B, T] (1 = token).</summary>
    Tensor EmbedIds(Tensor ids, Tensor mask);
}
