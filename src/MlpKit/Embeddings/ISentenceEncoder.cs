using static TorchSharp.torch;

namespace MlpKit.Embeddings;

/// <summary>A model that turns sentences into one vector each (its own pooling and normalisation applied).</summary>
public interface ISentenceEncoder
{
    /// <summary>Embeddings [n, dim] of the sentences, on the CPU, computed in batches.</summary>
    Tensor Embed(IReadOnlyList<string> sentences, int batchSize = 32);
}
