using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace MlpKit.Runtime;

/// <summary>One place that prepares libtorch for the process: environment, threads, device, seed.</summary>
public static partial class TorchRuntime
{
    static readonly object Gate = new();
    static bool _initialized;

    /// <summary>
    /// Call before the first tensor is made: lets MKL use its tuned kernels on AMD CPUs (<see cref="MklOnAmd"/>).
    /// </summary>
    public static void EnsureInitialized()
    {
        lock (Gate)
        {
            if (_initialized) return;
            MklOnAmd.Apply();
            _initialized = true;
        }
    }

    /// <summary>Resolves "auto", "cpu", "cuda" or "cuda:N" into a device, with a clear error when CUDA is absent.</summary>
    public static Device ResolveDevice(string spec)
    {
        EnsureInitialized();
        switch (spec.Trim().ToLowerInvariant())
        {
            case "auto":
                return cuda.is_available() ? CUDA : CPU;
            case "cpu":
                return CPU;
            default:
                if (spec.StartsWith("cuda", StringComparison.OrdinalIgnoreCase))
                {
                    if (!cuda.is_available())
                        throw new MlpKitException($"--device {spec}: CUDA is not available in this build (TorchSharp-cpu); swap in a CUDA TorchSharp package or use --device cpu");
                    return new Device(spec);
                }
                throw new MlpKitException($"--device {spec}: expected auto, cpu, cuda or cuda:N");
        }
    }

    public static ScalarType ResolveDType(string spec) => spec.Trim().ToLowerInvariant() switch
    {
        "float32" or "fp32" or "f32" => ScalarType.Float32,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float16" or "fp16" or "f16" => ScalarType.Float16,
        "float64" or "fp64" or "f64" => ScalarType.Float64,
        _ => throw new MlpKitException($"--dtype {spec}: expected float32 or bfloat16"),
    };

    public static void SetThreads(int threads)
    {
        EnsureInitialized();
        if (threads > 0) torch.set_num_threads(threads);
    }

    public static void Seed(long seed)
    {
        EnsureInitialized();
        torch.manual_seed(seed);
    }
}
