namespace MlpKit.Models.Llama;

/// <summary>
/// How RoPE's frequencies are rescaled for long context (config.json's rope_scaling; null: plain RoPE). Type is
/// "llama3" (Llama 3.1's wavelength-banded scaling, with the other fields) or "linear" (position interpolation by Factor).
/// </summary>
public sealed record RopeScaling(string Type, double Factor, double LowFreqFactor = 1, double HighFreqFactor = 4, long OriginalMaxPositions = 8192);

/// <summary>
/// The fields of a Llama-family config.json (model_type llama, mistral, qwen2) that shape the model. The three share
/// the math: pre-RMSNorm blocks, RoPE, grouped-query attention, a SwiGLU MLP; they differ in attention biases
/// (Qwen2: q/k/v; Llama: optional on all four), a sliding window (Mistral) and defaults.
/// </summary>
public sealed record LlamaConfig(
    string ModelType,
    long VocabSize,
    long HiddenSize,
    int NumLayers,
    int NumHeads,
    int NumKeyValueHeads,
    long HeadDim,
    IReadOnlyList<long> IntermediateSizes,
    double RmsNormEps,
    double RopeTheta,
    RopeScaling? RopeScaling,
    long MaxPositions,
    bool TieWordEmbeddings,
    bool QkvBias,
    bool OutputBias,
    long? SlidingWindow,
    double AttentionDropout = 0.0);
