using System.CommandLine;
using MlpKit.Cli.Commands;

namespace MlpKit.Cli;

/// <summary>Every top-level command, in the order `mlpkit --help` lists them.</summary>
public static class CommandRegistry
{
    public static IEnumerable<Command> All() =>
    [
        DemoCommand.Create(),
        InitCommand.Create(),
        InfoCommand.Create(),
        ImportCommand.Create(),
        EmbedCommand.Create(),
        ExportCommand.Create(),
        GenerateCommand.Create(),
        FinetuneCommand.Create(),
        AssetsCommand.Create(),
        CompressCommand.Create(),
        NtkCommand.Create(),
        BenchCommand.Create(),
        TrainLmCommand.Create(),
        EvalLmCommand.Create(),
        ExperimentCommand.Create(),
    ];
}
