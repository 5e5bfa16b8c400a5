using MlpKit.Ffn;
using MlpKit.Models;
using MlpKit.Models.Bert;
using static MlpKit.Onnx.OnnxGraphBuilder;
using static TorchSharp.torch;
using DataType = Onnx.TensorProto.Types.DataType;

namespace MlpKit.Onnx;

/// <summary>
/// Writes a BERT-family encoder (compressed or fine-tuned: every layer's own FFN width) as an ONNX graph
/// with the interface of the sentence-transformers exports: inputs input_ids, attention_mask, token_type_ids
/// (int64 [batch, sequence]), output last_hidden_state (float [batch, sequence, hidden]), so ONNX Runtime
/// code that ran the original file runs this one unchanged. Opset 17 (LayerNormalization as one op; exact
/// GELU as Erf). Linear weights are stored [in, out] under `X.weight_t` next to their `X.bias`, the layout
/// the importer follows, so import(export(m)) gives m back. The attention mask is additive with the float32
/// minimum, as Hugging Face's BertModel uses.
/// </summary>
public static class BertOnnxExport
{
    public const long Opset = 17;

    public static void Write(BertModel model, string path)
    {
        var cfg = model.TypedConfig;
        if (cfg.Roberta) throw new MlpKitException("export --format onnx: RoBERTa position ids (counted from padding_idx) are not exported yet; BERT models only");
        using var scope = NewDisposeScope();
        var w = HfTensorBinding.Export(model, model.NameMap())
            .ToDictionary(kv => kv.Key.StartsWith(cfg.Prefix, StringComparison.Ordinal) ? kv.Key[cfg.Prefix.Length..] : kv.Key, kv => kv.Value.cpu());
        var g = new OnnxGraphBuilder("mlpkit-bert");
        var ids = g.Input("input_ids", DataType.Int64, "batch", "sequence");
        var mask = g.Input("attention_mask", DataType.Int64, "batch", "sequence");
        var types = g.Input("token_type_ids", DataType.Int64, "batch", "sequence");

        // Embeddings: word + token type + position (0..T-1), then LayerNorm.
        var e = "/embeddings";
        var word = g.Node("Gather", e, [g.Initializer("embeddings.word_embeddings.weight", w["embeddings.word_embeddings.weight"]), ids]);
        var type = g.Node("Gather", e, [g.Initializer("embeddings.token_type_embeddings.weight", w["embeddings.token_type_embeddings.weight"]), types]);
        var shape = g.Node("Shape", e, [ids]);
        var seq = g.Node("Gather", e, [shape, g.Int64Scalar("const_index_1", 1)], Int("axis", 0)); // scalar T
        var positions = g.Node("Range", e, [g.Int64Scalar("const_zero", 0), seq, g.Int64Scalar("const_one", 1)]);
        var pos = g.Node("Gather", e, [g.Initializer("embeddings.position_embeddings.weight", w["embeddings.position_embeddings.weight"]), positions]);
        var x = g.Node("Add", e, [g.Node("Add", e, [word, type]), pos]);
        x = LayerNorm(g, e, x, "embeddings.LayerNorm", w, cfg.LayerNormEps);

        // Additive mask [B, 1, 1, T]: 0 for tokens, float32 min for padding.
        var m = g.Node("Cast", "/mask", [mask], Int("to", (long)DataType.Float));
        m = g.Node("Unsqueeze", "/mask", [m, g.Int64s("const_axes12", 1, 2)]);
        var inverted = g.Node("Sub", "/mask", [g.Scalar("const_one_float", 1f), m]);
        var additive = g.Node("Mul", "/mask", [inverted, g.Scalar("const_float_min", float.MinValue)]);

        long hidden = cfg.HiddenSize, heads = cfg.NumHeads, headDim = hidden / heads;
        var splitShape = g.Int64s("const_split_heads", 0, 0, heads, headDim);
        var mergeShape = g.Int64s("const_merge_heads", 0, 0, hidden);
        var scale = g.Scalar("const_attention_scale", (float)(1.0 / Math.Sqrt(headDim)));
        var ffns = model.FeedForwards;
        for (int i = 0; i < cfg.NumLayers; i++)
        {
            var l = $"encoder.layer.{i}.";
            var s = $"/encoder/layer.{i}";
            string Heads(string name, long[] perm) =>
                g.Node("Transpose", s, [g.Node("Reshape", s, [Linear(g, s, x, l + name, w), splitShape])], Ints("perm", perm));
            var q = Heads("attention.self.query", [0, 2, 1, 3]);
            var k = Heads("attention.self.key", [0, 2, 3, 1]);
            var v = Heads("attention.self.value", [0, 2, 1, 3]);
            var scores = g.Node("Add", s, [g.Node("Mul", s, [g.Node("MatMul", s, [q, k]), scale]), additive]);
            var probs = g.Node("Softmax", s, [scores], Int("axis", -1));
            var ctx = g.Node("Transpose", s, [g.Node("MatMul", s, [probs, v])], Ints("perm", 0, 2, 1, 3));
            ctx = g.Node("Reshape", s, [ctx, mergeShape]);
            var attn = Linear(g, s, ctx, l + "attention.output.dense", w);
            x = LayerNorm(g, s, g.Node("Add", s, [attn, x]), l + "attention.output.LayerNorm", w, cfg.LayerNormEps);
            var h = Activation(g, s, Linear(g, s, x, l + "intermediate.dense", w), ffns[i].Activation);
            var o = Linear(g, s, h, l + "output.dense", w);
            x = LayerNorm(g, s, g.Node("Add", s, [o, x]), l + "output.LayerNorm", w, cfg.LayerNormEps);
        }
        g.Output(x, "last_hidden_state", DataType.Float, "batch", "sequence", hidden.ToString());
        OnnxFile.Write(path, g.Build(Opset, "mlpkit", typeof(BertOnnxExport).Assembly.GetName().Version?.ToString() ?? "0"));
    }

    static string Linear(OnnxGraphBuilder g, string scope, string x, string name, Dictionary<string, Tensor> w)
    {
        var weight = g.Initializer(name + ".weight_t", w[name + ".weight"].t().contiguous());
        return g.Node("Add", scope, [g.Node("MatMul", scope, [x, weight]), g.Initializer(name + ".bias", w[name + ".bias"])]);
    }

    static string LayerNorm(OnnxGraphBuilder g, string scope, string x, string name, Dictionary<string, Tensor> w, double eps) =>
        g.Node("LayerNormalization", scope, [x, g.Initializer(name + ".weight", w[name + ".weight"]), g.Initializer(name + ".bias", w[name + ".bias"])],
            Int("axis", -1), Float("epsilon", (float)eps));

    static string Activation(OnnxGraphBuilder g, string scope, string h, FfnActivation act)
    {
        switch (act)
        {
            case FfnActivation.Relu:
                return g.Node("Relu", scope, [h]);
            case FfnActivation.Gelu:
            {
                // 0.5 x (1 + erf(x / sqrt 2)), the exact GELU of BERT's "gelu"
                var erf = g.Node("Erf", scope, [g.Node("Div", scope, [h, Const(g, "const_sqrt2", MathF.Sqrt(2f))])]);
                var one = g.Node("Add", scope, [erf, Const(g, "const_one_float", 1f)]);
                return g.Node("Mul", scope, [g.Node("Mul", scope, [h, one]), Const(g, "const_half", 0.5f)]);
            }
            case FfnActivation.GeluTanh:
            {
                var cube = g.Node("Mul", scope, [g.Node("Mul", scope, [h, h]), h]);
                var inner = g.Node("Add", scope, [h, g.Node("Mul", scope, [cube, Const(g, "const_gelu_c", 0.044715f)])]);
                var t = g.Node("Tanh", scope, [g.Node("Mul", scope, [inner, Const(g, "const_gelu_k", MathF.Sqrt(2f / MathF.PI))])]);
                var one = g.Node("Add", scope, [t, Const(g, "const_one_float", 1f)]);
                return g.Node("Mul", scope, [g.Node("Mul", scope, [h, one]), Const(g, "const_half", 0.5f)]);
            }
            default:
                return g.Node("Mul", scope, [h, g.Node("Sigmoid", scope, [h])]);
        }
    }

    // Shared scalar initializers are added once.
    static string Const(OnnxGraphBuilder g, string name, float value) => g.ScalarOnce(name, value);
}
