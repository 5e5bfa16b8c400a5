using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.Models;

/// <summary>weight · x / sqrt(mean(x²) + eps), computed in float32 as HF's MixtralRMSNorm does.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private Parameter weight;
    readonly double _eps;

    public RmsNorm(long dim, double eps) : base(nameof(RmsNorm))
    {
        weight = new Parameter(ones(dim));
        _eps = eps;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var dtype = x.dtype;
        var h = x.to_type(ScalarType.Float32);
        h = h * rsqrt(h.pow(2).mean(new long[] { -1 }, keepdim: true) + _eps);
        return weight * h.to_type(dtype);
    }
}
