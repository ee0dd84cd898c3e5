using System.Globalization;

namespace MLNet.Bayesian;

/// <summary>Checks of option values whose errors name the option, the value given and what is allowed.</summary>
internal static class OptionCheck
{
    static string Show(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    public static void AtLeast(string name, long value, long minimum, string? why = null)
    {
        if (value < minimum)
            throw new ArgumentOutOfRangeException(name, value, $"{name} is {value}; it must be at least {minimum}{(why is null ? "" : $" ({why})")}.");
    }

    public static void Positive(string name, double value)
    {
        if (!double.IsFinite(value) || value <= 0)
            throw new ArgumentOutOfRangeException(name, value, $"{name} is {Show(value)}; it must be a finite number above 0.");
    }

    public static void NonNegative(string name, double value)
    {
        if (!double.IsFinite(value) || value < 0)
            throw new ArgumentOutOfRangeException(name, value, $"{name} is {Show(value)}; it must be a finite number, 0 or above.");
    }

    /// <summary>A value in [low, high) (or [low, high] when <paramref name="highIncluded"/>).</summary>
    public static void Within(string name, double value, double low, double high, bool highIncluded = false)
    {
        bool ok = double.IsFinite(value) && value >= low && (highIncluded ? value <= high : value < high);
        if (!ok)
            throw new ArgumentOutOfRangeException(name, value,
                $"{name} is {Show(value)}; it must be in [{Show(low)}, {Show(high)}{(highIncluded ? "]" : ")")}.");
    }

    /// <summary>A positive threshold where +infinity means "off".</summary>
    public static void PositiveOrInfinity(string name, double value)
    {
        if (double.IsNaN(value) || value <= 0)
            throw new ArgumentOutOfRangeException(name, value, $"{name} is {Show(value)}; it must be above 0 (PositiveInfinity turns it off).");
    }

    public static void Defined<T>(string name, T value) where T : struct, Enum
    {
        if (!Enum.IsDefined(value))
            throw new ArgumentOutOfRangeException(name, value, $"{name} is {value}; it must be one of {string.Join(", ", Enum.GetNames<T>())}.");
    }
}
