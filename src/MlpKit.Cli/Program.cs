using System.CommandLine;

namespace MlpKit.Cli;

public static class Program
{
    public static int Main(string[] args) => Run(args);

    /// <summary>Parses and runs; tests call this in-process.</summary>
    public static int Run(string[] args)
    {
        var root = BuildRoot();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // One line, as every other user error: the problems and where to read the usage.
            Console.Error.WriteLine($"mlpkit: error: {string.Join("; ", parse.Errors.Select(e => Plain(e.Message).TrimEnd('.')).Distinct())} (mlpkit --help for usage)");
            return CliRun.UserError;
        }
        // Our own handler (CliRun) reports errors in one line; the default one prints stack traces.
        return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
    }

    /// <summary>
    /// System.CommandLine names the .NET type a value failed to parse as ("System.Nullable`1[System.Double]"); a user
    /// reads "a number". Lists of allowed values are joined onto the one line.
    /// </summary>
    internal static string Plain(string message)
    {
        message = System.Text.RegularExpressions.Regex.Replace(message, @"as expected type '([^']+)'", m => m.Groups[1].Value switch
        {
            var t when t.Contains("Double") || t.Contains("Single") => "as a number",
            var t when t.Contains("Int") => "as an integer",
            var t when t.Contains("Boolean") => "as true or false",
            _ => "as the expected value",
        });
        return string.Join(' ', message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    public static RootCommand BuildRoot()
    {
        var root = new RootCommand(
            "MlpKit: compress (MLP Fusion), approximate (sigma-MoE) and fine-tune (SparseGrad) the feed-forward blocks of transformer models.");
        foreach (var option in GlobalOptions.All) root.Options.Add(option);
        foreach (var command in CommandRegistry.All()) root.Subcommands.Add(command);
        return root;
    }
}
