using static TorchSharp.torch;

namespace MlpKit.Models;

/// <summary>Padded batches of token-id sequences.</summary>
public static class TokenBatch
{
    /// <summary>Ids [B, T] (padded with 0, T at least 1) and the length of each row [B].</summary>
    public static (Tensor Ids, Tensor Lengths) Pad(IReadOnlyList<int[]> sequences)
    {
        long t = Math.Max(1, sequences.Count == 0 ? 1 : sequences.Max(s => s.Length));
        var flat = new long[sequences.Count * t];
        for (int i = 0; i < sequences.Count; i++)
            for (int j = 0; j < sequences[i].Length; j++) flat[i * t + j] = sequences[i][j];
        return (tensor(flat, [sequences.Count, t]), tensor(sequences.Select(s => (long)s.Length).ToArray()));
    }

    /// <summary>The validity mask [B, T] (int64, 1 = token) of rows with the given lengths.</summary>
    public static Tensor Mask(Tensor lengths, long width) =>
        (arange(width).unsqueeze(0) < lengths.unsqueeze(1)).to(ScalarType.Int64);
}
