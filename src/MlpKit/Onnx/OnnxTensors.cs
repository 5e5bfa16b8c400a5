using System.Buffers.Binary;
using Google.Protobuf;
using Onnx;
using static TorchSharp.torch;
using DataType = Onnx.TensorProto.Types.DataType;

namespace MlpKit.Onnx;

/// <summary>Conversions between ONNX TensorProtos (raw little-endian bytes or typed fields) and torch tensors.</summary>
public static class OnnxTensors
{
    public static bool IsFloat(TensorProto t) =>
        (DataType)t.DataType is DataType.Float or DataType.Float16 or DataType.Double or DataType.Bfloat16;

    public static long[] Shape(TensorProto t) => t.Dims.ToArray();

    /// <summary>A float32 CPU tensor with the initializer's values; integer tensors are converted too.</summary>
    public static Tensor ToTensor(TensorProto t, string file)
    {
        var shape = Shape(t);
        long count = shape.Aggregate(1L, (a, b) => a * b);
        var values = ToDoubles(t, file, count);
        if (values.Length != count)
            throw MlpKitException.Field(file, $"initializer {t.Name}", $"holds {values.Length} values, its shape {string.Join("x", shape)} needs {count}");
        return tensor(values.Select(v => (float)v).ToArray(), shape, ScalarType.Float32);
    }

    /// <summary>The values of a (small) tensor as doubles, whatever its element type.</summary>
    public static double[] ToDoubles(TensorProto t, string file, long? expected = null)
    {
        var dt = (DataType)t.DataType;
        var raw = t.RawData.Span;
        bool hasRaw = !t.RawData.IsEmpty;
        int width = dt switch
        {
            DataType.Float or DataType.Int32 => 4,
            DataType.Double or DataType.Int64 => 8,
            DataType.Float16 or DataType.Bfloat16 => 2,
            _ => throw MlpKitException.Field(file, $"initializer {t.Name}", $"element type {dt} is not supported (float, float16, bfloat16, double, int32, int64)"),
        };
        if (hasRaw)
        {
            if (raw.Length % width != 0 || (expected is long n && raw.Length != n * width))
                throw MlpKitException.Field(file, $"initializer {t.Name}", $"raw data of {raw.Length} bytes does not fit its shape and type {dt}");
            var result = new double[raw.Length / width];
            for (int i = 0; i < result.Length; i++)
            {
                var s = raw.Slice(i * width, width);
                result[i] = dt switch
                {
                    DataType.Float => BinaryPrimitives.ReadSingleLittleEndian(s),
                    DataType.Double => BinaryPrimitives.ReadDoubleLittleEndian(s),
                    DataType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(s),
                    DataType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(s),
                    DataType.Float16 => (double)BinaryPrimitives.ReadHalfLittleEndian(s),
                    _ => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(s) << 16),
                };
            }
            return result;
        }
        return dt switch
        {
            DataType.Float => t.FloatData.Select(v => (double)v).ToArray(),
            DataType.Double => t.DoubleData.ToArray(),
            DataType.Int64 => t.Int64Data.Select(v => (double)v).ToArray(),
            DataType.Int32 => t.Int32Data.Select(v => (double)v).ToArray(),
            // float16/bfloat16 typed storage keeps the bit patterns in int32_data.
            DataType.Float16 => t.Int32Data.Select(v => (double)BitConverter.UInt16BitsToHalf((ushort)v)).ToArray(),
            _ => t.Int32Data.Select(v => (double)BitConverter.Int32BitsToSingle(v << 16)).ToArray(),
        };
    }

    /// <summary>A float32 initializer with raw little-endian data (the form exporters write).</summary>
    public static TensorProto FromTensor(string name, Tensor t)
    {
        var c = t.detach().to(ScalarType.Float32).cpu().contiguous();
        var values = c.data<float>().ToArray();
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        var proto = new TensorProto { Name = name, DataType = (int)DataType.Float, RawData = ByteString.CopyFrom(bytes) };
        proto.Dims.AddRange(c.shape);
        return proto;
    }

    public static TensorProto Int64s(string name, long[] values, long[]? shape = null)
    {
        var proto = new TensorProto { Name = name, DataType = (int)DataType.Int64 };
        proto.Dims.AddRange(shape ?? [values.Length]);
        proto.Int64Data.AddRange(values);
        return proto;
    }

    public static TensorProto Scalar(string name, float value)
    {
        var proto = new TensorProto { Name = name, DataType = (int)DataType.Float };
        proto.FloatData.Add(value);
        return proto;
    }
}
