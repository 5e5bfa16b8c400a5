using MlpKit.Tokenizers;

namespace MlpKit.Models.Mixtral;

/// <summary>
/// The zoo entry "mixtral". Presets: tiny has 4 experts of 256, small 8 experts of 512, top-2, two key/value
/// heads. `init` writes GPT-2's byte-level BPE as a tokenizer.json (no Mixtral SentencePiece model ships in the assets).
/// </summary>
public static class MixtralArchitecture
{
    public static ModelArchitecture Mixtral { get; } = new("mixtral", "Mixtral sparse-MoE decoder")
    {
        Build = c => new MixtralModel(MixtralConfigHf.Parse(c), c),
        Preset = (p, vocab, _) => MixtralConfigHf.Create(vocab ?? 32000, p.Hidden, p.Layers, p.Heads, 2,
            p.IsTiny ? 256 : 512, p.IsTiny ? 4 : 8, 2, p.MaxPositions),
        WriteTokenizer = (dir, _) => TokenizerFiles.WriteGpt2TokenizerJson(dir),
    };
}
