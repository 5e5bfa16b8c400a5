
namespace MlpKit.Generation;

/// <summary>
/// How <see cref="TextGenerator"/> picks tokens. Greedy unless <see cref="Sample"/>; when sampling, the logits
/// are divided by <see cref="Temperature"/>, then filtered by <see cref="TopK"/> (0 = off) and
/// <see cref="TopP"/> (1 = off) in that order, as Hugging Face's logits warpers do, and drawn with a
/// generator seeded by <see cref="Seed"/>.
/// </summary>
public sealed record GenerationOptions
{
    public int MaxNewTokens { get; init; } = 20;
    public bool Sample { get; init; }
    public int TopK { get; init; }
    public double TopP { get; init; } = 1.0;
    public double Temperature { get; init; } = 1.0;
    public long Seed { get; init; }
    /// <summary>Reuse past keys/values (one position per step) instead of recomputing the whole sequence.</summary>
    public bool UseCache { get; init; } = true;
    /// <summary>Stop after emitting this token.</summary>
    public long? EosTokenId { get; init; }

    public void Validate()
    {
        if (MaxNewTokens < 0) throw new MlpKitException($"max new tokens must be >= 0, got {MaxNewTokens}");
        if (TopK < 0) throw new MlpKitException($"top-k must be >= 0, got {TopK}");
        if (!(TopP > 0 && TopP <= 1)) throw new MlpKitException($"top-p must be in (0, 1], got {TopP}");
        if (!(Temperature > 0)) throw new MlpKitException($"temperature must be > 0, got {Temperature}");
    }
}
