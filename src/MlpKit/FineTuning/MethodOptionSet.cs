using System.Globalization;
using System.Text.RegularExpressions;

namespace MlpKit.FineTuning;

/// <summary>The value type of a method option, for parsing and for the CLI's help.</summary>
public enum MethodOptionKind { Number, Integer, Bool, Regex }

/// <summary>One option a method declares: its name (the CLI flag is --NAME), kind, range, default and help.</summary>
public sealed record MethodOptionInfo(string Method, string Name, MethodOptionKind Kind, string Default, string Help, double Min, double Max)
{
    /// <summary>"rank of the adapters (integer in [1, 65536], default 8)".</summary>
    public string Describe()
    {
        var range = Kind switch
        {
            MethodOptionKind.Number => $"number{Range()}",
            MethodOptionKind.Integer => $"integer{Range()}",
            MethodOptionKind.Bool => "true or false",
            _ => "regular expression",
        };
        return $"{Help} ({range}, default {Default})";
    }

    string Range() => (Unbounded(-Min), Unbounded(Max)) switch
    {
        (true, true) => "",
        (false, true) => $" >= {Fmt(Min)}",
        _ => $" in [{Fmt(Min)}, {Fmt(Max)}]",
    };

    static bool Unbounded(double v) => v >= int.MaxValue;

    static string Fmt(double v) => v.ToString("G", CultureInfo.InvariantCulture);
}

/// <summary>
/// A method's options, declared once: each entry names the option, its kind and range, its help, and how it reads
/// and sets the config record <typeparamref name="T"/>. The same declaration parses name=value strings (CLI flags,
/// experiment files), rejects unknown names and bad values with one line, and lists the options for --help, so the
/// CLI builds its flags from it rather than repeating them.
/// </summary>
public sealed class MethodOptionSet<T> where T : class, new()
{
    sealed record Entry(MethodOptionInfo Info, Func<T, string, T> Apply);

    readonly List<Entry> _entries = [];
    readonly T _defaults = new();

    public MethodOptionSet(string method) => Method = method;

    public string Method { get; }

    public IReadOnlyList<MethodOptionInfo> Declared => _entries.Select(e => e.Info).ToList();

    public MethodOptionSet<T> Number(string name, string help, Func<T, double> get, Func<T, double, T> set,
        double min = double.NegativeInfinity, double max = double.PositiveInfinity) =>
        Add(name, MethodOptionKind.Number, help, Show(get(_defaults)), min, max, (c, s) =>
            double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max
                ? set(c, v) : throw Bad(name, s, $"must be a number in [{min}, {max}]"));

    public MethodOptionSet<T> Integer(string name, string help, Func<T, int> get, Func<T, int, T> set,
        int min = int.MinValue, int max = int.MaxValue) =>
        Add(name, MethodOptionKind.Integer, help, get(_defaults).ToString(CultureInfo.InvariantCulture), min, max, (c, s) =>
            int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max
                ? set(c, v) : throw Bad(name, s, $"must be an integer in [{min}, {max}]"));

    public MethodOptionSet<T> Bool(string name, string help, Func<T, bool> get, Func<T, bool, T> set) =>
        Add(name, MethodOptionKind.Bool, help, get(_defaults) ? "true" : "false", double.NegativeInfinity, double.PositiveInfinity, (c, s) =>
            s.ToLowerInvariant() switch
            {
                "true" or "1" or "yes" => set(c, true),
                "false" or "0" or "no" => set(c, false),
                _ => throw Bad(name, s, "must be true or false"),
            });

    public MethodOptionSet<T> Regex(string name, string help, Func<T, string> get, Func<T, string, T> set) =>
        Add(name, MethodOptionKind.Regex, help, get(_defaults), double.NegativeInfinity, double.PositiveInfinity, (c, s) =>
        {
            try { _ = new Regex(s, RegexOptions.CultureInvariant); }
            catch (ArgumentException e) { throw new MlpKitException($"method {Method}: option '{name}' is not a valid regular expression: {e.Message}"); }
            return set(c, s);
        });

    /// <summary>Every option of <paramref name="inner"/>, reading and writing the part of <typeparamref name="T"/> it configures.</summary>
    public MethodOptionSet<T> Include<TInner>(MethodOptionSet<TInner> inner, Func<T, TInner> get, Func<T, TInner, T> set) where TInner : class, new()
    {
        foreach (var e in inner._entries)
            _entries.Add(new Entry(e.Info with { Method = Method }, (c, s) => set(c, e.Apply(get(c), s))));
        return this;
    }

    MethodOptionSet<T> Add(string name, MethodOptionKind kind, string help, string shown, double min, double max, Func<T, string, T> apply)
    {
        if (_entries.Any(e => e.Info.Name == name)) throw new ArgumentException($"option {name} declared twice", nameof(name));
        _entries.Add(new Entry(new MethodOptionInfo(Method, name, kind, shown, help, min, max), apply));
        return this;
    }

    /// <summary>The config with the given options applied over the defaults; an unknown name or a bad value is one line.</summary>
    public T Parse(IReadOnlyDictionary<string, string>? values)
    {
        var config = new T();
        if (values is null) return config;
        var unknown = values.Keys.Where(k => _entries.All(e => e.Info.Name != k)).ToList();
        if (unknown.Count > 0)
            throw new MlpKitException($"method {Method}: unknown option(s) {string.Join(", ", unknown)} (known: {string.Join(", ", _entries.Select(e => e.Info.Name).Order(StringComparer.Ordinal))})");
        foreach (var e in _entries)
            if (values.TryGetValue(e.Info.Name, out var s)) config = e.Apply(config, s);
        return config;
    }

    MlpKitException Bad(string name, string value, string rule) => new($"method {Method}: option '{name}' = '{value}' {rule}");

    static string Show(double v) => v.ToString("G", CultureInfo.InvariantCulture);
}
