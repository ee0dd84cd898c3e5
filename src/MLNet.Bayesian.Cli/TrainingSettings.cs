using System.Globalization;
using System.Reflection;
using System.Xml.Linq;
using MLNet.Bayesian.MLNetIntegration;

namespace MLNet.Bayesian.Cli;

/// <summary>
/// Every training setting of <see cref="BayesianImageClassificationTrainer.Options"/> by name, so that the command line
/// reaches all of them (<c>--set Name=value</c>, nested as <c>SharedPosterior.ComponentBudget=512</c>) without a flag
/// per field and without a second copy of their defaults. Settings are the public fields of simple types: numbers,
/// booleans, enums, and arrays of numbers (comma-separated).
/// </summary>
internal static class TrainingSettings
{
    /// <summary>Settings the pipeline decides, not the user: column names, data, callbacks.</summary>
    static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
    {
        "LabelColumnName", "ImageColumnName", "PredictedLabelColumnName", "ScoreColumnName", "ValidationSet", "NetworkFactory", "CancellationToken",
        "ImageChannels", "VectorPixelScale", "Progress",
    };

    /// <summary>Applies one <c>Name=value</c> assignment to <paramref name="options"/>; errors name the setting and the value.</summary>
    public static void Apply(object options, string assignment)
    {
        int eq = assignment.IndexOf('=');
        if (eq <= 0) throw new ArgumentException($"--set '{assignment}': write Name=value, e.g. KLWarmupEpochs=1 (train --list-settings lists the names).");
        string name = assignment[..eq].Trim(), text = assignment[(eq + 1)..].Trim();
        var (target, field) = Find(options, name);
        object value;
        try { value = Parse(field.FieldType, text); }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            throw new ArgumentException($"--set {name}={text}: '{text}' is not a {Describe(field.FieldType)}.", e);
        }
        field.SetValue(target, value);
    }

    /// <summary>Every settable setting with its value in <paramref name="options"/> (the defaults, for fresh options).</summary>
    public static IEnumerable<(string Name, string Type, string Value, FieldInfo Field)> List(object options, string prefix = "")
    {
        foreach (var field in Fields(options.GetType()))
        {
            object? value = field.GetValue(options);
            if (IsSimple(field.FieldType)) yield return (prefix + field.Name, Describe(field.FieldType), Show(value), field);
            else if (value is not null && field.FieldType.IsClass && field.FieldType.Namespace?.StartsWith("MLNet.Bayesian", StringComparison.Ordinal) == true)
                foreach (var nested in List(value, prefix + field.Name + ".")) yield return nested;
        }
    }

    /// <summary>The summary of a field from the library's XML documentation, when it ships beside the assembly.</summary>
    public static string Summary(FieldInfo field)
    {
        var assembly = field.DeclaringType!.Assembly;
        var docs = Docs.GetOrAdd(assembly, a =>
        {
            string file = Path.ChangeExtension(a.Location, ".xml");
            return File.Exists(file) ? XDocument.Load(file) : null;
        });
        string id = $"F:{field.DeclaringType.FullName!.Replace('+', '.')}.{field.Name}";
        var summary = docs?.Descendants("member").FirstOrDefault(m => (string?)m.Attribute("name") == id)?.Element("summary");
        if (summary is null) return "";
        string text = string.Concat(summary.Nodes().Select(Text));
        return string.Join(" ", text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>
    /// A node's text, where a cross-reference (empty in the XML, "F:Namespace.Type.Name" in its cref) reads as its last
    /// name: "the means keep BayesianLearningRate", not "the means keep ".
    /// </summary>
    static string Text(XNode node) => node switch
    {
        XText t => t.Value,
        XElement { Name.LocalName: "see" or "seealso" } e when (string?)e.Attribute("cref") is string cref => e.Value.Length > 0 ? e.Value : cref[(cref.LastIndexOf('.') + 1)..],
        XElement { Name.LocalName: "paramref" or "typeparamref" } e => (string?)e.Attribute("name") ?? "",
        XElement e => string.Concat(e.Nodes().Select(Text)),
        _ => "",
    };

    static readonly System.Collections.Concurrent.ConcurrentDictionary<Assembly, XDocument?> Docs = new();

    static IEnumerable<FieldInfo> Fields(Type type)
        => type.GetFields(BindingFlags.Public | BindingFlags.Instance).Where(f => !f.IsInitOnly && !Reserved.Contains(f.Name));

    static (object Target, FieldInfo Field) Find(object options, string name)
    {
        object target = options;
        var parts = name.Split('.');
        for (int i = 0; i < parts.Length; i++)
        {
            var field = Fields(target.GetType()).FirstOrDefault(f => string.Equals(f.Name, parts[i], StringComparison.OrdinalIgnoreCase))
                ?? throw new ArgumentException($"--set {name}: there is no setting '{string.Join(".", parts[..(i + 1)])}' (train --list-settings lists them).");
            if (i == parts.Length - 1)
            {
                if (!IsSimple(field.FieldType)) throw new ArgumentException($"--set {name}: '{field.Name}' is a group of settings; set one of its fields, e.g. {name}.<field>.");
                return (target, field);
            }
            target = field.GetValue(target) ?? throw new ArgumentException($"--set {name}: '{parts[i]}' is not set.");
        }
        throw new ArgumentException($"--set: no setting named '{name}'.");
    }

    static bool IsSimple(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type.IsArray) return IsSimple(type.GetElementType()!);
        return type.IsPrimitive || type.IsEnum || type == typeof(decimal);
    }

    static object Parse(Type type, string text)
    {
        var underlying = Nullable.GetUnderlyingType(type);
        if (underlying is not null) return text.Length == 0 || text.Equals("null", StringComparison.OrdinalIgnoreCase) ? null! : Parse(underlying, text);
        if (type.IsArray)
        {
            var items = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var array = Array.CreateInstance(type.GetElementType()!, items.Length);
            for (int i = 0; i < items.Length; i++) array.SetValue(Parse(type.GetElementType()!, items[i]), i);
            return array;
        }
        if (type.IsEnum)
        {
            if (Enum.TryParse(type, text, ignoreCase: true, out var e) && Enum.IsDefined(type, e!) && !text.All(char.IsDigit)) return e!;
            throw new ArgumentException($"one of {string.Join(", ", Enum.GetNames(type))}");
        }
        if (type == typeof(bool)) return bool.Parse(text);
        if (type == typeof(double) && text.Equals("infinity", StringComparison.OrdinalIgnoreCase)) return double.PositiveInfinity;
        return Convert.ChangeType(text, type, CultureInfo.InvariantCulture);
    }

    static string Describe(Type type)
    {
        var underlying = Nullable.GetUnderlyingType(type);
        if (underlying is not null) return Describe(underlying) + " or null";
        if (type.IsArray) return "list of " + Describe(type.GetElementType()!);
        if (type.IsEnum) return string.Join("|", Enum.GetNames(type));
        return type == typeof(int) || type == typeof(long) ? "integer" : type == typeof(bool) ? "true|false" : "number";
    }

    static string Show(object? value) => value switch
    {
        null => "null",
        Array a => string.Join(",", a.Cast<object>().Select(v => Convert.ToString(v, CultureInfo.InvariantCulture))),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
