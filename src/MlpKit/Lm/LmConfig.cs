using MlpKit.Ffn.Variants;

namespace MlpKit.Lm;

/// <summary>
/// Shape of the from-scratch pre-LN decoder-only LM. <see cref="Ffn"/> is the feed-forward of every layer, built
/// by name through <see cref="FfnVariants"/>; its WeightStdScale is replaced by the stack's √(2/n_layers).
/// </summary>
public sealed record LmConfig(
    long VocabSize,
    long DModel,
    int NLayers,
    int NHeads,
    long ContextLength,
    string FfnName,
    FfnVariantConfig Ffn,
    double Dropout = 0.0,
    double RopeBase = 10000.0,
    string Attention = LmConfig.RopeAttention)
{
    /// <summary>Rotary position embedding on causal attention over the current segment (the default).</summary>
    public const string RopeAttention = "rope";
    /// <summary>Transformer-XL relative attention over [one cached previous segment ; current segment].</summary>
    public const string XlAttention = "xl";

    public void Validate(string where = "lm config")
    {
        if (VocabSize <= 0) throw MlpKitException.Field(where, "vocab_size", $"must be positive, got {VocabSize}");
        if (DModel <= 0) throw MlpKitException.Field(where, "d_model", $"must be positive, got {DModel}");
        if (NLayers <= 0) throw MlpKitException.Field(where, "n_layers", $"must be positive, got {NLayers}");
        if (NHeads <= 0 || DModel % NHeads != 0) throw MlpKitException.Field(where, "n_heads", $"must divide d_model ({DModel}), got {NHeads}");
        if (Attention is not (RopeAttention or XlAttention))
            throw MlpKitException.Field(where, "attention", $"must be \"{RopeAttention}\" or \"{XlAttention}\", got \"{Attention}\"");
        if (Attention == XlAttention && DModel % 2 != 0) throw MlpKitException.Field(where, "d_model", $"must be even for sinusoidal relative positions, got {DModel}");
        if (Attention == RopeAttention && (DModel / NHeads) % 2 != 0) throw MlpKitException.Field(where, "n_heads", $"head size {DModel / NHeads} must be even for RoPE");
        if (ContextLength <= 0) throw MlpKitException.Field(where, "context_length", $"must be positive, got {ContextLength}");
        if (!(Dropout >= 0 && Dropout < 1)) throw MlpKitException.Field(where, "dropout", $"must be in [0, 1), got {Dropout}");
        if (Ffn.DModel != DModel) throw MlpKitException.Field(where, "ffn.d_model", $"is {Ffn.DModel}, the model's d_model is {DModel}");
        FfnVariants.Info(FfnName);
    }

    /// <summary>The pre-LN init scale ws = √(2/n_layers) every weight of the stack uses.</summary>
    public double WeightStdScale => VariantInit.PreLnScale(NLayers);
}
