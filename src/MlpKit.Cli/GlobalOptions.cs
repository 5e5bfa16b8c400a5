using System.CommandLine;

namespace MlpKit.Cli;

/// <summary>Options every command accepts (declared once on the root, recursive to all subcommands).</summary>
public static class GlobalOptions
{
    public static readonly Option<string> Device = new("--device")
    {
        Description = "Where tensors live: auto, cpu, cuda or cuda:N (auto picks CUDA when the TorchSharp build has it)",
        DefaultValueFactory = _ => "auto",
        Recursive = true,
    };

    public static readonly Option<int> Threads = NonNegative(new Option<int>("--threads")
    {
        Description = "CPU threads for libtorch (0 = libtorch's default)",
        DefaultValueFactory = _ => 0,
        Recursive = true,
    });

    static Option<int> NonNegative(Option<int> option)
    {
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 0) r.AddError($"{option.Name} {r.GetValueOrDefault<int>()}: must be 0 (libtorch's default) or a positive count");
        });
        return option;
    }

    public static readonly Option<long> Seed = new("--seed")
    {
        Description = "Random seed for initialisation, sampling, clustering and data order",
        DefaultValueFactory = _ => 42,
        Recursive = true,
    };

    public static readonly Option<string> DType = new("--dtype")
    {
        Description = "Compute dtype: float32 or bfloat16",
        DefaultValueFactory = _ => "float32",
        Recursive = true,
    };

    public static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Show stack traces and extra diagnostics",
        Recursive = true,
    };

    public static IEnumerable<Option> All => [Device, Threads, Seed, DType, Verbose];
}
