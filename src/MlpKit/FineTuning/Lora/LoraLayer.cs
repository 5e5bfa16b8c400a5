using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.FineTuning.Lora;

/// <summary>The low-rank update of one linear: delta(x) = scaling · B (A dropout(x)).</summary>
public sealed class LoraLayer : nn.Module<Tensor, Tensor>
{
    public Parameter A { get; }
    public Parameter B { get; }
    public double Scaling { get; }
    readonly double _dropout;

    public LoraLayer(long inFeatures, long outFeatures, int rank, double scaling, double dropout, ScalarType dtype, Device device)
        : base(nameof(LoraLayer))
    {
        A = new Parameter(empty(rank, inFeatures, dtype: dtype, device: device));
        // Same init as nn.Linear's weight (and PEFT's lora_A): uniform(±1/sqrt(in)).
        using (no_grad()) nn.init.kaiming_uniform_(A, a: Math.Sqrt(5));
        B = new Parameter(zeros(outFeatures, rank, dtype: dtype, device: device));
        Scaling = scaling;
        _dropout = dropout;
        register_parameter("A", A);
        register_parameter("B", B);
    }

    public override Tensor forward(Tensor x)
    {
        var h = _dropout > 0 ? nn.functional.dropout(x, _dropout, training) : x;
        return nn.functional.linear(nn.functional.linear(h, A), B) * Scaling;
    }

    /// <summary>scaling · B A, the dense change this adapter makes to the weight.</summary>
    public Tensor DeltaWeight() => B.matmul(A) * Scaling;
}
