using Onnx;

namespace MlpKit.Onnx;

/// <summary>
/// An index over an ONNX graph for following data flow: which node produces a value, which nodes consume it,
/// which values are initializers or Constant-node outputs.
/// </summary>
public sealed class OnnxGraph
{
    readonly Dictionary<string, NodeProto> _producer = new(StringComparer.Ordinal);
    readonly Dictionary<string, List<NodeProto>> _consumers = new(StringComparer.Ordinal);

    public OnnxGraph(ModelProto model, string file)
    {
        File = file;
        Graph = model.Graph;
        Initializers = Graph.Initializer.GroupBy(i => i.Name).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        Constants = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (var node in Graph.Node)
        {
            foreach (var output in node.Output) _producer[output] = node;
            foreach (var input in node.Input)
            {
                if (input.Length == 0) continue;
                if (!_consumers.TryGetValue(input, out var list)) _consumers[input] = list = [];
                list.Add(node);
            }
            if (node.OpType == "Constant" && node.Attribute.FirstOrDefault(a => a.Name == "value") is { T: { } t })
                Constants[node.Output[0]] = t;
        }
    }

    public string File { get; }
    public GraphProto Graph { get; }
    public IReadOnlyDictionary<string, TensorProto> Initializers { get; }
    public Dictionary<string, TensorProto> Constants { get; }

    public NodeProto? Producer(string value) => _producer.GetValueOrDefault(value);

    public IReadOnlyList<NodeProto> Consumers(string value) =>
        _consumers.TryGetValue(value, out var list) ? list : Array.Empty<NodeProto>();

    /// <summary>An initializer or a Constant node's value, by the name of the value.</summary>
    public TensorProto? ConstantValue(string value) =>
        Initializers.GetValueOrDefault(value) ?? Constants.GetValueOrDefault(value);

    /// <summary>The single number of a scalar (or one-element) constant input, else null.</summary>
    public double? ScalarOf(string value)
    {
        if (ConstantValue(value) is not { } t || t.Dims.Aggregate(1L, (a, b) => a * b) != 1) return null;
        try
        {
            var v = OnnxTensors.ToDoubles(t, File);
            return v.Length == 1 ? v[0] : null;
        }
        catch (MlpKitException)
        {
            return null;
        }
    }

    public static long IntAttribute(NodeProto node, string name, long fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.I : fallback;

    public static float FloatAttribute(NodeProto node, string name, float fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.F : fallback;

    public static string StringAttribute(NodeProto node, string name, string fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.S.ToStringUtf8() : fallback;

    public static string Describe(NodeProto node) =>
        node.Name.Length > 0 ? $"node {node.Name} ({node.OpType})" : $"{node.OpType} node producing {node.Output.FirstOrDefault()}";
}
