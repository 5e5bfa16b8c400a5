using Google.Protobuf;
using MlpKit.Checkpoints;
using Onnx;

namespace MlpKit.Onnx;

/// <summary>
/// Reads and writes ONNX model files (the onnx.proto ModelProto, through OnnxSharp's generated classes). Every
/// problem is a one-line <see cref="MlpKitException"/> naming the file: a missing file, bytes that are not a
/// protobuf ModelProto (truncated, another format), a model without a graph, weights kept in external files.
/// </summary>
public static class OnnxFile
{
    public static ModelProto Read(string path)
    {
        if (!File.Exists(path)) throw new MlpKitException($"{path}: file not found");
        ModelProto model;
        try
        {
            using var stream = File.OpenRead(path);
            if (stream.Length == 0) throw new MlpKitException($"{path}: empty file (not an ONNX model)");
            model = ModelProto.Parser.ParseFrom(stream);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new MlpKitException($"{path}: not a readable ONNX model ({FirstSentence(e.Message)})", e);
        }
        catch (IOException e)
        {
            throw new MlpKitException($"{path}: cannot read: {e.Message}", e);
        }
        // Any byte string that happens to parse yields a ModelProto; a real one has an IR version and a graph.
        if (model.IrVersion <= 0 || model.Graph is null || model.Graph.Node.Count == 0)
            throw MlpKitException.Field(path, model.Graph is null ? "graph" : "ir_version",
                "missing: not an ONNX model (or a truncated one)");
        foreach (var init in model.Graph.Initializer)
            if (init.DataLocation == TensorProto.Types.DataLocation.External)
                throw MlpKitException.Field(path, $"initializer {init.Name}", "stored in an external data file, which is not supported; re-export with the weights inside the model file");
        return model;
    }

    /// <summary>Writes the model atomically (temp file + rename).</summary>
    public static void Write(string path, ModelProto model) =>
        AtomicFile.Write(path, stream => model.WriteTo(stream));

    static string FirstSentence(string message)
    {
        var line = message.Split('\n')[0].Trim();
        return line.Length > 160 ? line[..160] + "..." : line;
    }
}
