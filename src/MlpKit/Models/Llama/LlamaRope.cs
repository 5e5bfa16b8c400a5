using static TorchSharp.torch;

namespace MlpKit.Models.Llama;

/// <summary>RoPE inverse frequencies with config.json's rope_scaling applied, as transformers' modeling_rope_utils does.</summary>
public static class LlamaRope
{
    public static Tensor InverseFrequencies(LlamaConfig cfg)
    {
        using var scope = NewDisposeScope();
        var invFreq = RotaryEmbedding.InverseFrequencies(cfg.HeadDim, cfg.RopeTheta);
        var scaled = cfg.RopeScaling switch
        {
            null => invFreq,
            { Type: "linear" } s => invFreq / s.Factor,
            { Type: "llama3" } s => Llama3(invFreq, s),
            var s => throw new MlpKitException($"rope_scaling: '{s.Type}' is not supported"),
        };
        return scaled.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Llama 3.1: wavelengths shorter than original/high_freq_factor keep their frequency, those longer than
    /// original/low_freq_factor are divided by factor, and the band between is interpolated smoothly.
    /// </summary>
    static Tensor Llama3(Tensor invFreq, RopeScaling s)
    {
        double lowWavelen = s.OriginalMaxPositions / s.LowFreqFactor;
        double highWavelen = s.OriginalMaxPositions / s.HighFreqFactor;
        var wavelen = 2 * Math.PI / invFreq;
        var llama = where(wavelen > lowWavelen, invFreq / s.Factor, invFreq);
        var smooth = (s.OriginalMaxPositions / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
        var smoothed = (1 - smooth) * llama / s.Factor + smooth * llama;
        var medium = wavelen.ge(highWavelen).logical_and(wavelen.le(lowWavelen));
        return where(medium, smoothed, llama);
    }
}
