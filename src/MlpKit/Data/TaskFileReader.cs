using System.Globalization;
using System.Text;
using System.Text.Json;

namespace MlpKit.Data;

/// <summary>Which columns of a task file hold the text, the optional second text and the label.</summary>
/// <param name="Text">Column of the (first) text.</param>
/// <param name="TextPair">Column of the second text for pair tasks; when <paramref name="PairRequired"/> is
/// false a file without that column is a single-text task.</param>
/// <param name="Label">Column of the label (a string or a number).</param>
/// <param name="PairRequired">True when the user named the pair column explicitly, so its absence is an error.</param>
public sealed record TaskFileColumns(string Text = "text", string TextPair = "text_pair", string Label = "label", bool PairRequired = false)
{
    public static readonly TaskFileColumns Default = new();
}

/// <summary>One row of a task file, the label kept as written (numbers as their JSON/CSV text).</summary>
/// <param name="Text">The text.</param>
/// <param name="TextPair">The second text, or null for single-text tasks.</param>
/// <param name="Label">The label as written.</param>
/// <param name="Line">1-based line where the row starts (the header is line 1 in TSV/CSV).</param>
public sealed record TaskFileRow(string Text, string? TextPair, string Label, int Line);

/// <summary>
/// Reads user task files: TSV (tab-separated, header row, no quoting), CSV (RFC 4180: header row, fields
/// quoted with '"' may hold commas, newlines and doubled quotes) and JSONL (one object per line), chosen by
/// the extension (.tsv/.tab, .csv, .jsonl/.ndjson). Errors name the file and the line.
/// </summary>
public static class TaskFileReader
{
    public static IReadOnlyList<TaskFileRow> Read(string path, TaskFileColumns? columns = null)
    {
        columns ??= TaskFileColumns.Default;
        if (!File.Exists(path)) throw new MlpKitException($"{path}: file not found");
        var ext = Path.GetExtension(path).ToLowerInvariant();
        return ext switch
        {
            ".tsv" or ".tab" => ReadTable(path, TsvRecords(path), columns),
            ".csv" => ReadTable(path, CsvRecords(path), columns),
            ".jsonl" or ".ndjson" => ReadJsonl(path, columns),
            _ => throw new MlpKitException($"{path}: unknown task file type '{ext}' (expected .tsv, .csv or .jsonl)"),
        };
    }

    /// <summary>
    /// A classification task from user files. The label set is the training file's labels, sorted
    /// numerically when every label is a number (so "2" and "2.0" are the same class), otherwise ordinally;
    /// a dev/test label absent from training is an error naming its file and line.
    /// </summary>
    public static TextClassificationTask LoadTask(string train, string dev, string? test = null,
        TaskFileColumns? columns = null, string? name = null)
    {
        var trainRows = Read(train, columns);
        if (trainRows.Count == 0) throw new MlpKitException($"{train}: no rows");
        var numeric = trainRows.All(r => TryNumber(r.Label, out _));
        string Canonical(string label) => numeric && TryNumber(label, out var v) ? v.ToString("R", CultureInfo.InvariantCulture) : label;
        var labels = trainRows.Select(r => Canonical(r.Label)).Distinct().ToList();
        labels.Sort(numeric
            ? Comparer<string>.Create((a, b) => double.Parse(a, CultureInfo.InvariantCulture).CompareTo(double.Parse(b, CultureInfo.InvariantCulture)))
            : StringComparer.Ordinal);
        var index = labels.Select((l, i) => (l, i)).ToDictionary(p => p.l, p => p.i);

        List<TextExample> Convert(string file, IReadOnlyList<TaskFileRow> rows) => rows.Select(r =>
            index.TryGetValue(Canonical(r.Label), out var id)
                ? new TextExample(r.Text, r.TextPair, id)
                : throw MlpKitException.Field(file, $"line {r.Line}: label",
                    $"'{r.Label}' does not occur in the training file {train} (labels: {string.Join(", ", labels.Take(20))}{(labels.Count > 20 ? ", ..." : "")})"))
            .ToList();

        return new TextClassificationTask(name ?? Path.GetFileNameWithoutExtension(train), labels,
            Convert(train, trainRows), Convert(dev, Read(dev, columns)), test is null ? [] : Convert(test, Read(test, columns)));
    }

    /// <summary>
    /// A regression task from user files: every label (train, dev and test) must be a finite number; one that
    /// is not is an error naming its file and line.
    /// </summary>
    public static TextRegressionTask LoadRegressionTask(string train, string dev, string? test = null,
        TaskFileColumns? columns = null, string? name = null)
    {
        columns ??= TaskFileColumns.Default;
        List<TextExample> Convert(string file)
        {
            var rows = Read(file, columns);
            if (rows.Count == 0) throw new MlpKitException($"{file}: no rows");
            return rows.Select(r => TryNumber(r.Label, out var v)
                    ? new TextExample(r.Text, r.TextPair, 0, v)
                    : throw MlpKitException.Field(file, $"line {r.Line}: {columns.Label}",
                        $"'{r.Label}' is not a number (regression labels must be numbers; use --task-type classification for class names)"))
                .ToList();
        }
        return new TextRegressionTask(name ?? Path.GetFileNameWithoutExtension(train), Convert(train), Convert(dev), test is null ? [] : Convert(test));
    }

    static bool TryNumber(string s, out double value) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);

    static List<TaskFileRow> ReadTable(string path, IEnumerable<(string[] Fields, int Line)> records, TaskFileColumns columns)
    {
        using var e = records.GetEnumerator();
        if (!e.MoveNext()) throw new MlpKitException($"{path}: empty file (expected a header row naming the columns)");
        var header = e.Current.Fields.Select(h => h.Trim()).ToArray();
        if (header.Length > 0 && header[0].StartsWith('\uFEFF')) header[0] = header[0][1..];
        int Column(string name, bool required)
        {
            var i = Array.IndexOf(header, name);
            if (i < 0 && required)
                throw MlpKitException.Field(path, "line 1", $"column '{name}' not found (columns: {string.Join(", ", header)})");
            return i;
        }
        var text = Column(columns.Text, true);
        var label = Column(columns.Label, true);
        var pair = Column(columns.TextPair, columns.PairRequired);
        var rows = new List<TaskFileRow>();
        while (e.MoveNext())
        {
            var (fields, line) = e.Current;
            if (fields.Length == 1 && fields[0].Length == 0) continue;   // blank line
            if (fields.Length != header.Length)
                throw MlpKitException.Field(path, $"line {line}", $"{fields.Length} fields, the header has {header.Length}");
            var labelValue = fields[label].Trim();
            if (labelValue.Length == 0) throw MlpKitException.Field(path, $"line {line}: {columns.Label}", "empty label");
            rows.Add(new TaskFileRow(fields[text], pair >= 0 ? fields[pair] : null, labelValue, line));
        }
        return rows;
    }

    static IEnumerable<(string[] Fields, int Line)> TsvRecords(string path)
    {
        foreach (var (raw, line) in TextLines.Raw(path))
            yield return (raw.Split('\t'), line);
    }

    /// <summary>RFC 4180 records; each with the line it starts on.</summary>
    internal static IEnumerable<(string[] Fields, int Line)> CsvRecords(string path)
    {
        // Decoded strictly line by line first, so invalid UTF-8 is reported with its line (a buffered reader cannot say).
        foreach (var _ in TextLines.Raw(path)) { }
        using var reader = TextLines.StrictReader(path);
        var fields = new List<string>();
        var field = new StringBuilder();
        int line = 1, start = 1;
        bool quoted = false, fieldWasQuoted = false, any = false;
        int c;
        while ((c = reader.Read()) >= 0)
        {
            var ch = (char)c;
            any = true;
            if (quoted)
            {
                if (ch == '"')
                {
                    if (reader.Peek() == '"') { reader.Read(); field.Append('"'); }
                    else quoted = false;
                }
                else
                {
                    if (ch == '\n') line++;
                    field.Append(ch);
                }
                continue;
            }
            switch (ch)
            {
                case '"' when field.Length == 0 && !fieldWasQuoted:
                    quoted = fieldWasQuoted = true;
                    break;
                case '"':
                    throw MlpKitException.Field(path, $"line {line}", "a quote inside an unquoted field (RFC 4180 requires the whole field quoted, with \"\" for a quote)");
                case ',':
                    fields.Add(field.ToString()); field.Clear(); fieldWasQuoted = false;
                    break;
                case '\r' when reader.Peek() == '\n':
                    break;
                case '\n' or '\r':
                    fields.Add(field.ToString()); field.Clear(); fieldWasQuoted = false;
                    yield return (fields.ToArray(), start);
                    fields.Clear();
                    line++;
                    start = line;
                    any = false;
                    break;
                default:
                    if (fieldWasQuoted && !char.IsWhiteSpace(ch))
                        throw MlpKitException.Field(path, $"line {line}", "text after a closing quote");
                    if (!fieldWasQuoted) field.Append(ch);
                    break;
            }
        }
        if (quoted) throw MlpKitException.Field(path, $"line {start}", "unterminated quoted field");
        if (any)
        {
            fields.Add(field.ToString());
            yield return (fields.ToArray(), start);
        }
    }

    static List<TaskFileRow> ReadJsonl(string path, TaskFileColumns columns)
    {
        var rows = new List<TaskFileRow>();
        foreach (var (raw, line) in TextLines.Raw(path))
        {
            if (string.IsNullOrWhiteSpace(raw)) continue;
            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(raw);
            }
            catch (JsonException e)
            {
                throw MlpKitException.Field(path, $"line {line}", $"malformed JSON: {e.Message}");
            }
            using (doc)
            {
                var obj = doc.RootElement;
                if (obj.ValueKind != JsonValueKind.Object) throw MlpKitException.Field(path, $"line {line}", "expected a JSON object");
                var text = JsonValue(obj, columns.Text, path, line, required: true)!;
                var pair = JsonValue(obj, columns.TextPair, path, line, required: columns.PairRequired);
                var label = JsonValue(obj, columns.Label, path, line, required: true)!.Trim();
                if (label.Length == 0) throw MlpKitException.Field(path, $"line {line}: {columns.Label}", "empty label");
                rows.Add(new TaskFileRow(text, pair, label, line));
            }
        }
        return rows;
    }

    static string? JsonValue(JsonElement obj, string column, string path, int line, bool required)
    {
        if (!obj.TryGetProperty(column, out var v) || v.ValueKind == JsonValueKind.Null)
            return required ? throw MlpKitException.Field(path, $"line {line}", $"column '{column}' missing") : null;
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Number => v.GetRawText(),
            JsonValueKind.True or JsonValueKind.False => v.GetRawText(),
            _ => throw MlpKitException.Field(path, $"line {line}: {column}", $"expected a string or a number, got {v.ValueKind}"),
        };
    }
}
