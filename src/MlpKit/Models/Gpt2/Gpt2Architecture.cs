using MlpKit.Tokenizers;

namespace MlpKit.Models.Gpt2;

/// <summary>The zoo entry "gpt2".</summary>
public static class Gpt2Architecture
{
    public static ModelArchitecture Gpt2 { get; } = new("gpt2", "GPT-2 decoder (byte-level BPE)")
    {
        Build = c => new Gpt2Model(Gpt2ConfigHf.Parse(c), c),
        Preset = (p, vocab, _) => Gpt2ConfigHf.Create(vocab ?? 50257, p.Hidden, p.Layers, p.Heads, p.MaxPositions),
        WriteTokenizer = (dir, _) => TokenizerFiles.WriteGpt2(dir),
    };
}
