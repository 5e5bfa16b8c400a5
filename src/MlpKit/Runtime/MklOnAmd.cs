using System.Runtime.InteropServices;
using TorchSharp;

namespace MlpKit.Runtime;

/// <summary>
/// libtorch's CPU build links Intel MKL statically, and MKL picks its GEMM kernels by CPU vendor: on AMD it asks
/// <c>mkl_serv_intel_cpu_true</c>, gets 0, and runs a generic path even where the CPU has the same AVX2/FMA units its
/// tuned kernels need. Measured on this project's AMD EPYC (Zen 3, family 25), one thread, in
/// <c>MlpKit.Bench compare</c>: the dense FFN forward+backward (512→2053→512, 4096 tokens) took 1.38× PyTorch-with-OpenBLAS's
/// time with the generic path and 0.94× with the tuned one; one 4096×512 @ 512×2048 matmul 1.06× and 0.95×.
/// So on AMD x86-64 Linux this makes that function answer 1 (<c>mov eax, 1; ret</c> over its first bytes, in this
/// process's copy of the code) before MKL's first call, which is what the common LD_PRELOAD remedy does without a
/// file. MKL still chooses among its kernels by the CPU's feature bits (AVX2 here, never AVX-512 on a CPU without it).
/// Results differ from the generic path only by float rounding. MLPKIT_MKL_VENDOR=keep leaves MKL alone.
/// </summary>
public static partial class MklOnAmd
{
    public const string EnvVar = "MLPKIT_MKL_VENDOR";

    /// <summary>What happened: "patched", or why not ("not AMD", "kept by MLPKIT_MKL_VENDOR", "symbol not found", ...).</summary>
    public static string Status { get; private set; } = "not run";

    [LibraryImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    private static partial int MProtect(nint addr, nuint len, int prot);

    [LibraryImport("libc", EntryPoint = "sysconf")]
    private static partial long SysConf(int name);

    const int ProtRead = 1, ProtWrite = 2, ProtExec = 4, ScPageSize = 30;

    /// <summary>Call once, after libtorch is loaded and before the first tensor operation.</summary>
    internal static void Apply()
    {
        try { Status = TryApply(); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or IOException or UnauthorizedAccessException)
        {
            Status = $"not patched ({e.GetType().Name})";
        }
    }

    static string TryApply()
    {
        if (Environment.GetEnvironmentVariable(EnvVar) is "keep" or "off" or "0") return $"kept by {EnvVar}";
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return "not x86-64 Linux";
        if (!File.ReadLines("/proc/cpuinfo").Any(l => l.StartsWith("vendor_id", StringComparison.Ordinal) && l.Contains("AuthenticAMD"))) return "not AMD";
        // Loads libtorch (TorchSharp's native libraries) without computing anything, so MKL has not dispatched yet.
        torch.InitializeDeviceType(DeviceType.CPU);
        var lib = File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 6 && f[^1].EndsWith("/libtorch_cpu.so", StringComparison.Ordinal)).Select(f => f[^1]).FirstOrDefault();
        if (lib is null) return "libtorch_cpu.so not loaded";
        var handle = NativeLibrary.Load(lib);
        if (!NativeLibrary.TryGetExport(handle, "mkl_serv_intel_cpu_true", out var fn)) return "symbol not found (libtorch without MKL)";
        ReadOnlySpan<byte> returnOne = [0xB8, 0x01, 0x00, 0x00, 0x00, 0xC3];
        var page = SysConf(ScPageSize);
        var start = (nint)((long)fn & ~(page - 1));
        var len = (nuint)((long)fn + returnOne.Length - (long)start);
        if (MProtect(start, len, ProtRead | ProtWrite | ProtExec) != 0) return $"not patched (mprotect errno {Marshal.GetLastPInvokeError()})";
        Marshal.Copy(returnOne.ToArray(), 0, fn, returnOne.Length);
        MProtect(start, len, ProtRead | ProtExec);
        return "patched";
    }
}
