using System.CommandLine;
using System.Globalization;
using MlpKit.Checkpoints;

namespace MlpKit.Cli;

/// <summary>Option values every command reads the same way (lists, layer sets, figures), so no command borrows another's helpers.</summary>
public static class CliValues
{
    /// <summary>A comma-separated list, entries trimmed, empty ones dropped.</summary>
    public static string[] List(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>A comma-separated list of numbers; <paramref name="option"/> names the flag in the error.</summary>
    public static List<double> Numbers(string option, string spec) => List(spec)
        .Select(s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v
            : throw new MlpKitException($"{option} {spec}: '{s}' is not a number")).ToList();

    /// <summary>--layers: "all" (null) or comma-separated layer indices.</summary>
    public static IReadOnlySet<int>? Layers(string spec)
    {
        if (spec.Trim().Equals("all", StringComparison.OrdinalIgnoreCase)) return null;
        var set = new HashSet<int>();
        foreach (var part in List(spec))
            set.Add(int.TryParse(part, out var i) && i >= 0 ? i : throw new MlpKitException($"--layers {spec}: '{part}' is not a layer index (use all or e.g. 0,1)"));
        if (set.Count == 0) throw new MlpKitException($"--layers {spec}: no layer given");
        return set;
    }

    /// <summary>A measured figure with four significant digits, or "-" when it was not measured.</summary>
    public static string Format(double? v) => v is double d ? d.ToString("G4", CultureInfo.InvariantCulture) : "-";

    /// <summary>
    /// Marks <paramref name="option"/> as a folder the command writes: checked when the command line is parsed, before
    /// anything loads, so a path that cannot be written is one line and exit 2 instead of a failure after the work.
    /// </summary>
    public static Option<T> OutputFolder<T>(this Option<T> option) => Output(option, OutputPath.FolderProblem);

    /// <summary>As <see cref="OutputFolder{T}"/>, for a file the command writes.</summary>
    public static Option<T> OutputFile<T>(this Option<T> option) => Output(option, OutputPath.FileProblem);

    static Option<T> Output<T>(Option<T> option, Func<string, string?> problem)
    {
        option.Validators.Add(r =>
        {
            if (r.Implicit) return;   // a default location is checked where it is resolved
            if (r.GetValueOrDefault<T>() is string path && problem(path) is { } p) r.AddError($"{option.Name} {path}: {p}");
        });
        return option;
    }
}
