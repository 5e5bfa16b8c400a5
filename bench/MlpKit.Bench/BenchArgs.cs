using System.Globalization;

namespace MlpKit.Bench;

/// <summary>"--name value" options of a bench case, with defaults; numbers in the invariant culture.</summary>
public sealed class BenchArgs(string[] args)
{
    public string Text(string name, string fallback) =>
        Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;

    public int Int(string name, int fallback) => int.Parse(Text(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
}
