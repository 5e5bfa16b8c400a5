using static TorchSharp.torch;

namespace MlpKit.Ffn;

/// <summary>The point-wise nonlinearities found in the feed-forward blocks of the supported models.</summary>
public enum FfnActivation
{
    Relu,
    /// <summary>Exact (erf) GELU, BERT/RoBERTa's "gelu".</summary>
    Gelu,
    /// <summary>tanh-approximated GELU, GPT-2's "gelu_new".</summary>
    GeluTanh,
    /// <summary>SiLU / swish, the gate activation of SwiGLU (Mixtral, Llama).</summary>
    Silu,
}

public static class Activations
{
    public static Tensor Apply(FfnActivation act, Tensor x) => act switch
    {
        FfnActivation.Relu => TorchSharp.torch.nn.functional.relu(x),
        FfnActivation.Gelu => TorchSharp.torch.nn.functional.gelu(x),
        FfnActivation.GeluTanh => GeluTanh(x),
        FfnActivation.Silu => TorchSharp.torch.nn.functional.silu(x),
        _ => throw new ArgumentOutOfRangeException(nameof(act)),
    };

    // GPT-2's "gelu_new", 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as libtorch's fused tanh-GELU computes it (the
    // same formula, equal to float rounding): written out it was 8 element-wise ops, each saved for the backward, and
    // made a GPT-2-small training step 1.5× PyTorch's time (MlpKit.Bench compare gpt2-full).
    static Tensor GeluTanh(Tensor x) => TorchSharp.torch.nn.functional.gelu(x, TorchSharp.Modules.GELU.Approximate.tanh);

    /// <summary>Maps a Hugging Face <c>hidden_act</c> / <c>activation_function</c> string.</summary>
    public static FfnActivation FromHfName(string name, string file = "config.json", string field = "hidden_act") =>
        name switch
        {
            "relu" => FfnActivation.Relu,
            "gelu" => FfnActivation.Gelu,
            "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => FfnActivation.GeluTanh,
            "silu" or "swish" => FfnActivation.Silu,
            _ => throw MlpKitException.Field(file, field, $"unsupported activation '{name}' (expected relu, gelu, gelu_new, silu)"),
        };

    public static string ToHfName(FfnActivation act) => act switch
    {
        FfnActivation.Relu => "relu",
        FfnActivation.Gelu => "gelu",
        FfnActivation.GeluTanh => "gelu_new",
        FfnActivation.Silu => "silu",
        _ => throw new ArgumentOutOfRangeException(nameof(act)),
    };
}
