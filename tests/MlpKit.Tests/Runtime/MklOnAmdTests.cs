using System.Runtime.InteropServices;
using MlpKit.Runtime;
using static TorchSharp.torch;
using Xunit;

namespace MlpKit.Tests.Runtime;

/// <summary>MKL's vendor check is answered only on AMD x86-64 Linux, and the math it then runs still agrees with float64.</summary>
public class MklOnAmdTests
{
    static bool IsAmdX64Linux =>
        OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64 &&
        File.ReadLines("/proc/cpuinfo").Any(l => l.StartsWith("vendor_id", StringComparison.Ordinal) && l.Contains("AuthenticAMD"));

    [Fact]
    public void PatchedExactlyOnAmdUnlessKept()
    {
        TorchRuntime.EnsureInitialized();
        var kept = Environment.GetEnvironmentVariable(MklOnAmd.EnvVar) is "keep" or "off" or "0";
        if (IsAmdX64Linux && !kept) Assert.Equal("patched", MklOnAmd.Status);
        else Assert.NotEqual("patched", MklOnAmd.Status);
    }

    [Fact]
    public void GemmAndBatchedGemmAgreeWithFloat64()
    {
        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        var g = new Generator(5);
        // Odd sizes and a transposed operand, the shapes where a kernel's edge handling shows.
        var a = randn(517, 263, generator: g);
        var b = randn(2053, 263, generator: g);
        var x = randn(7, 131, 45, generator: g);
        var y = randn(7, 45, 129, generator: g);
        var mm = (a.matmul(b.t()).to(ScalarType.Float64) - a.to(ScalarType.Float64).matmul(b.to(ScalarType.Float64).t())).abs().max().item<double>();
        var bmm = (x.bmm(y).to(ScalarType.Float64) - x.to(ScalarType.Float64).bmm(y.to(ScalarType.Float64))).abs().max().item<double>();
        Assert.True(mm < 1e-3, $"float32 GEMM differs from float64 by {mm}");
        Assert.True(bmm < 1e-3, $"float32 batched GEMM differs from float64 by {bmm}");
    }
}
