using System.Text.Json.Nodes;
using MlpKit.Checkpoints;

namespace MlpKit.Models.Llama;

/// <summary>
/// Reading and writing the Llama-family fields of config.json (transformers' LlamaConfig, MistralConfig, Qwen2Config).
/// What would change the results and is not implemented is refused with the field named: another activation, RoPE
/// scaling other than llama3/linear, partial rotary embeddings, Qwen2's per-layer sliding window, MLP biases.
/// </summary>
public static class LlamaConfigHf
{
    /// <summary>The model_types read here; the math is the same, the defaults and biases differ.</summary>
    public static readonly string[] ModelTypes = ["llama", "mistral", "qwen2"];

    public static LlamaConfig Parse(HfConfig c)
    {
        var type = c.ModelType;
        if (!ModelTypes.Contains(type)) throw MlpKitException.Field(c.Path, "model_type", $"'{type}' is not one of {string.Join(", ", ModelTypes)}");
        var act = c.GetString("hidden_act", "silu");
        if (act != "silu") throw MlpKitException.Field(c.Path, "hidden_act", $"'{act}' is not supported (the Llama MLP is SwiGLU: silu)");
        if (c.Has("partial_rotary_factor") && c.GetDouble("partial_rotary_factor") != 1.0)
            throw MlpKitException.Field(c.Path, "partial_rotary_factor", $"{c.GetDouble("partial_rotary_factor")} is not supported (rotary embedding over the whole head only)");
        int layers = HfConfigFields.Positive(c, "num_hidden_layers");
        long hidden = HfConfigFields.Positive(c, "hidden_size");
        int heads = HfConfigFields.Positive(c, "num_attention_heads");
        int kvHeads = HfConfigFields.Positive(c, "num_key_value_heads", heads);
        if (heads % kvHeads != 0)
            throw MlpKitException.Field(c.Path, "num_key_value_heads", $"{kvHeads} does not divide num_attention_heads {heads}");
        if (!c.Has("head_dim") && hidden % heads != 0)
            throw MlpKitException.Field(c.Path, "hidden_size", $"{hidden} is not a multiple of num_attention_heads {heads} (and head_dim is not given)");
        long headDim = c.Has("head_dim") ? HfConfigFields.Positive(c, "head_dim") : hidden / heads;
        if (headDim % 2 != 0) throw MlpKitException.Field(c.Path, "head_dim", $"{headDim} must be even for rotary embeddings");
        bool attentionBias = type == "llama" && c.GetBool("attention_bias", false);
        // The feed-forward contract every method reads (Up/Gate/Down) has no gate bias; no released Llama uses one.
        HfConfigFields.RejectTrue(c, "mlp_bias", "the gated MLP blocks carry no gate bias");
        return new LlamaConfig(
            ModelType: type,
            VocabSize: HfConfigFields.Positive(c, "vocab_size"),
            HiddenSize: hidden,
            NumLayers: layers,
            NumHeads: heads,
            NumKeyValueHeads: kvHeads,
            HeadDim: headDim,
            IntermediateSizes: FfnWidths.PerLayer(c, layers, HfConfigFields.Positive(c, "intermediate_size")),
            RmsNormEps: c.GetDouble("rms_norm_eps", 1e-6),
            RopeTheta: c.GetDouble("rope_theta", 10000.0),
            RopeScaling: ParseRopeScaling(c),
            MaxPositions: HfConfigFields.Positive(c, "max_position_embeddings", 2048),
            TieWordEmbeddings: c.GetBool("tie_word_embeddings", false),
            // Qwen2 always has q/k/v biases (and no o_proj bias); Llama's attention_bias puts one on all four.
            QkvBias: type == "qwen2" || attentionBias,
            OutputBias: attentionBias,
            SlidingWindow: SlidingWindow(c, type),
            AttentionDropout: HfConfigFields.Probability(c, "attention_dropout", 0.0));
    }

    static long? SlidingWindow(HfConfig c, string type)
    {
        if (type == "qwen2")
        {
            // Qwen2's window applies to layers from max_window_layers on only when use_sliding_window is set.
            HfConfigFields.RejectTrue(c, "use_sliding_window", "Qwen2's per-layer sliding window is not implemented");
            return null;
        }
        // Llama has no window; Mistral's applies to every layer (HF: key j is visible to query i when i - w < j <= i).
        if (type != "mistral" || !c.Has("sliding_window")) return null;
        var w = c.GetLong("sliding_window");
        if (w <= 0) throw MlpKitException.Field(c.Path, "sliding_window", $"must be positive or null, got {w}");
        return w;
    }

    static RopeScaling? ParseRopeScaling(HfConfig c)
    {
        if (!c.Has("rope_scaling")) return null;
        if (c.Root["rope_scaling"] is not JsonObject o) throw MlpKitException.Field(c.Path, "rope_scaling", "expected an object or null");
        var sub = HfConfig.FromJson(o, c.Path);
        var type = sub.Has("rope_type") ? sub.GetString("rope_type") : sub.Has("type") ? sub.GetString("type") : "default";
        double Factor() => sub.Has("factor") && sub.GetDouble("factor") > 0 ? sub.GetDouble("factor")
            : throw MlpKitException.Field(c.Path, "rope_scaling.factor", "a positive factor is required");
        switch (type)
        {
            case "default":
                return null;
            case "linear":
                return new RopeScaling("linear", Factor());
            case "llama3":
                var s = new RopeScaling("llama3", Factor(), sub.GetDouble("low_freq_factor", 1), sub.GetDouble("high_freq_factor", 4),
                    sub.Has("original_max_position_embeddings") ? sub.GetLong("original_max_position_embeddings") : 8192);
                if (!(s.HighFreqFactor > s.LowFreqFactor && s.LowFreqFactor > 0 && s.OriginalMaxPositions > 0))
                    throw MlpKitException.Field(c.Path, "rope_scaling", "llama3 scaling needs high_freq_factor > low_freq_factor > 0 and original_max_position_embeddings > 0");
                return s;
            default:
                throw MlpKitException.Field(c.Path, "rope_scaling.rope_type", $"'{type}' is not supported (default, linear and llama3 are)");
        }
    }

    /// <summary>A config.json for a random model of the given size (presets): GQA with kv heads = heads / 2 when even, tied embeddings.</summary>
    public static HfConfig Create(long vocab, long hidden, int layers, int heads, int kvHeads, long intermediate, long positions, bool tied = true) =>
        HfConfigFields.New("config.json",
            ("architectures", new JsonArray(JsonValue.Create("LlamaForCausalLM"))),
            ("model_type", "llama"),
            ("vocab_size", vocab),
            ("hidden_size", hidden),
            ("intermediate_size", intermediate),
            ("num_hidden_layers", layers),
            ("num_attention_heads", heads),
            ("num_key_value_heads", kvHeads),
            ("head_dim", hidden / heads),
            ("hidden_act", "silu"),
            ("max_position_embeddings", positions),
            ("rms_norm_eps", 1e-5),
            ("rope_theta", 10000.0),
            ("rope_scaling", null),
            ("attention_bias", false),
            ("attention_dropout", 0.0),
            ("mlp_bias", false),
            ("tie_word_embeddings", tied),
            ("initializer_range", 0.02),
            ("use_cache", true),
            ("bos_token_id", vocab - 1),
            ("eos_token_id", vocab - 1));
}
