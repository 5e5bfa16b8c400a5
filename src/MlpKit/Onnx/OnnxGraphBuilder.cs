using Google.Protobuf;
using Onnx;
using static TorchSharp.torch;
using DataType = Onnx.TensorProto.Types.DataType;

namespace MlpKit.Onnx;

/// <summary>A small helper for writing ONNX graphs: nodes with generated value names, initializers, typed inputs/outputs.</summary>
public sealed class OnnxGraphBuilder
{
    readonly GraphProto _graph;
    int _counter;

    public OnnxGraphBuilder(string name) => _graph = new GraphProto { Name = name };

    public string Initializer(string name, Tensor value)
    {
        _graph.Initializer.Add(OnnxTensors.FromTensor(name, value));
        return name;
    }

    public string Int64s(string name, params long[] values)
    {
        _graph.Initializer.Add(OnnxTensors.Int64s(name, values));
        return name;
    }

    public string Int64Scalar(string name, long value)
    {
        _graph.Initializer.Add(OnnxTensors.Int64s(name, [value], []));
        return name;
    }

    public string Scalar(string name, float value)
    {
        _graph.Initializer.Add(OnnxTensors.Scalar(name, value));
        return name;
    }

    /// <summary>A scalar initializer shared by every node that names it: added on first use.</summary>
    public string ScalarOnce(string name, float value) =>
        _graph.Initializer.Any(i => i.Name == name) ? name : Scalar(name, value);

    /// <summary>Adds a node and returns its (first) output's name, "{scope}/{op}_N".</summary>
    public string Node(string op, string scope, IEnumerable<string> inputs, params AttributeProto[] attributes)
    {
        var output = $"{scope}/{op}_{_counter++}";
        var node = new NodeProto { OpType = op, Name = output };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return output;
    }

    /// <summary>Renames the value a node produced to a graph output name (rewrites its consumers too).</summary>
    public void Output(string value, string name, DataType type, params string[] dims)
    {
        foreach (var node in _graph.Node)
        {
            for (int i = 0; i < node.Output.Count; i++) if (node.Output[i] == value) node.Output[i] = name;
            for (int i = 0; i < node.Input.Count; i++) if (node.Input[i] == value) node.Input[i] = name;
        }
        _graph.Output.Add(ValueInfo(name, type, dims));
    }

    public string Input(string name, DataType type, params string[] dims)
    {
        _graph.Input.Add(ValueInfo(name, type, dims));
        return name;
    }

    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };
    public static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };
    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }
    public static AttributeProto String(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    static ValueInfoProto ValueInfo(string name, DataType type, string[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(long.TryParse(d, out var n) ? new TensorShapeProto.Types.Dimension { DimValue = n } : new TensorShapeProto.Types.Dimension { DimParam = d });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    public ModelProto Build(long opset, string producer, string version)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = producer, ProducerVersion = version, Graph = _graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return model;
    }
}
