using MlpKit.Tokenizers;

namespace MlpKit.Models.Llama;

/// <summary>
/// The zoo entry "llama", which also reads model_type mistral and qwen2 (the same math; see <see cref="LlamaConfigHf"/>).
/// Presets: tiny is the shared tiny size (GQA with 2 key/value heads, tied embeddings); small is about 100 M parameters
/// (hidden 768, 10 layers, 12 heads, 4 key/value heads, MLP 2048, GPT-2's 50257-token vocabulary, tied), the size the
/// memory figures in docs/llama.md are measured at. `init` writes GPT-2's byte-level BPE as a tokenizer.json.
/// </summary>
public static class LlamaArchitecture
{
    public static ModelArchitecture Llama { get; } = new("llama", "Llama-family decoder (Llama 2/3, Mistral, Qwen2, SmolLM layout)")
    {
        Build = c => new LlamaModel(LlamaConfigHf.Parse(c), c),
        AlsoReads = ["mistral", "qwen2"],
        Preset = (p, vocab, _) => p.IsTiny
            ? LlamaConfigHf.Create(vocab ?? 32000, p.Hidden, p.Layers, p.Heads, p.Heads / 2, p.Ffn, p.MaxPositions)
            : LlamaConfigHf.Create(vocab ?? 32000, 768, 10, 12, 4, 2048, 1024),
        WriteTokenizer = (dir, _) => TokenizerFiles.WriteGpt2TokenizerJson(dir),
    };
}
