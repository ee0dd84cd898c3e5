using System.Globalization;
using SkiaSharp;

namespace MLNet.Bayesian.Plots;

/// <summary>
/// A minimal chart (lines, bars, points, ellipses) written as PNG with SkiaSharp 3, the version ML.NET 6's
/// ImageAnalytics brings. Text goes through SKFont (SkiaSharp 3 made SKPaint's text members obsolete). ScottPlot 5
/// would also run on SkiaSharp 3 now, but it adds HarfBuzzSharp's native library to every application that only
/// wants a reliability diagram; these 200 lines draw the four plots the library makes.
/// </summary>
internal sealed class Chart
{
    const int Width = 720, Height = 480, Left = 70, Right = 20, Top = 56, Bottom = 55;
    internal static readonly SKColor[] Palette = { new(31, 119, 180), new(255, 127, 14), new(44, 160, 44), new(214, 39, 40), new(148, 103, 189) };

    enum Kind { Line, Bars, Points, Ellipses }
    sealed record Series(string Label, Kind Kind, double[] X, double[] Y, SKColor? Color, float Size, IReadOnlyList<Ellipse>? Ellipses = null);

    /// <summary>The curve of a 2-D Gaussian at <c>Radius</c> standard deviations.</summary>
    internal readonly record struct Ellipse(double Cx, double Cy, double Sxx, double Sxy, double Syy, double Radius)
    {
        public IEnumerable<(double X, double Y)> Outline(int steps = 48)
        {
            // x = c + L u over the unit circle, L the Cholesky factor of the covariance.
            double l11 = Math.Sqrt(Math.Max(Sxx, 0)), l21 = l11 > 0 ? Sxy / l11 : 0, l22 = Math.Sqrt(Math.Max(Syy - l21 * l21, 0));
            for (int i = 0; i <= steps; i++)
            {
                double t = 2 * Math.PI * i / steps, u = Radius * Math.Cos(t), v = Radius * Math.Sin(t);
                yield return (Cx + l11 * u, Cy + l21 * u + l22 * v);
            }
        }
    }

    readonly List<Series> _series = new();
    readonly string _title, _xLabel, _yLabel;
    double? _xMin, _xMax, _yMin, _yMax;
    (double X0, double Y0, double X1, double Y1)? _reference;
    readonly List<(double X, string Label)> _markers = new();

    public Chart(string title, string xLabel, string yLabel) { _title = title; _xLabel = xLabel; _yLabel = yLabel; }

    public Chart Line(string label, double[] x, double[] y) { _series.Add(new(label, Kind.Line, x, y, null, 2)); return this; }
    public Chart Bars(string label, double[] x, double[] y) { _series.Add(new(label, Kind.Bars, x, y, null, 0)); return this; }
    public Chart Points(string label, double[] x, double[] y, SKColor color, float radius) { _series.Add(new(label, Kind.Points, x, y, color, radius)); return this; }
    public Chart Ellipses(string label, IReadOnlyList<Ellipse> ellipses, SKColor color)
    {
        var outline = ellipses.SelectMany(e => e.Outline(8)).ToList();
        _series.Add(new(label, Kind.Ellipses, outline.Select(p => p.X).ToArray(), outline.Select(p => p.Y).ToArray(), color, 1.5f, ellipses));
        return this;
    }
    public Chart Limits(double xMin, double xMax, double yMin, double yMax) { (_xMin, _xMax, _yMin, _yMax) = (xMin, xMax, yMin, yMax); return this; }
    public Chart Reference(double x0, double y0, double x1, double y1) { _reference = (x0, y0, x1, y1); return this; }
    /// <summary>A labelled vertical line, e.g. a review threshold.</summary>
    public Chart Marker(double x, string label) { _markers.Add((x, label)); return this; }

    /// <summary>
    /// A round tick spacing for a range: 1, 2, 2.5 or 5 times a power of ten, about <paramref name="ticks"/> per range,
    /// so that labels read 0.05, 0.10, 0.15 rather than 0.081, 0.101.
    /// </summary>
    internal static double NiceStep(double range, int ticks = 5)
    {
        double raw = range / ticks;
        if (!(raw > 0) || !double.IsFinite(raw)) return 1;
        double power = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double f = raw / power;
        return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * power;
    }

    /// <summary>The multiples of <paramref name="step"/> within [min, max]; one that is zero up to rounding is exactly 0 (no "-0.00").</summary>
    static IEnumerable<double> TicksBetween(double min, double max, double step)
    {
        for (double v = Math.Ceiling(min / step - 1e-9) * step; v <= max + 1e-9 * step; v += step)
            yield return Math.Abs(v) < 1e-12 * step ? 0 : v;
    }

    /// <summary>A tick label with as many decimals as the tick spacing needs (a narrow range far from zero needs more than G3 gives).</summary>
    internal static string Tick(double value, double step)
    {
        int decimals = step <= 0 ? 3 : Math.Clamp((int)Math.Ceiling(-Math.Log10(step)) + 1, 0, 8);
        return value.ToString("F" + decimals, CultureInfo.InvariantCulture);
    }

    public void SavePng(string path)
    {
        var xs = _series.SelectMany(s => s.X).Concat(_markers.Select(m => m.X)).Where(double.IsFinite).DefaultIfEmpty(0).ToList();
        var ys = _series.SelectMany(s => s.Y).Where(double.IsFinite).DefaultIfEmpty(0).ToList();
        bool lineChart = _series.All(s => s.Kind is Kind.Line or Kind.Bars);
        double xMin = _xMin ?? xs.Min(), xMax = _xMax ?? xs.Max();
        // Line and bar charts start their y axis at zero; scatter plots fit their points.
        double yMin = _yMin ?? (lineChart ? Math.Min(0, ys.Min()) : ys.Min()), yMax = _yMax ?? ys.Max();
        if (xMax <= xMin) xMax = xMin + 1;
        if (yMax <= yMin) yMax = yMin + 1;
        if (!lineChart && _xMin is null)
        {
            double mx = 0.03 * (xMax - xMin), my = 0.03 * (yMax - yMin);
            (xMin, xMax, yMin, yMax) = (xMin - mx, xMax + mx, yMin - my, yMax + my);
        }
        double xStep = NiceStep(xMax - xMin), yStep = NiceStep(yMax - yMin);
        // Line and bar charts end their axes on a tick; scatter plots keep their margins and tick inside them.
        if (lineChart && _xMin is null) (xMin, xMax) = (Math.Floor(xMin / xStep + 1e-9) * xStep, Math.Ceiling(xMax / xStep - 1e-9) * xStep);
        if (lineChart && _yMin is null) (yMin, yMax) = (Math.Floor(yMin / yStep + 1e-9) * yStep, Math.Ceiling(yMax / yStep - 1e-9) * yStep);
        float Px(double x) => (float)(Left + (x - xMin) / (xMax - xMin) * (Width - Left - Right));
        float Py(double y) => (float)(Height - Bottom - (y - yMin) / (yMax - yMin) * (Height - Top - Bottom));

        using var bitmap = new SKBitmap(Width, Height);
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        using var axis = new SKPaint { Color = SKColors.Black, StrokeWidth = 1, IsAntialias = true };
        using var grid = new SKPaint { Color = new SKColor(225, 225, 225), StrokeWidth = 1 };
        using var text = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        using var font = new SKFont(SKTypeface.Default, 13);
        foreach (double xv in TicksBetween(xMin, xMax, xStep))
        {
            canvas.DrawLine(Px(xv), Top, Px(xv), Height - Bottom, grid);
            canvas.DrawText(Tick(xv, xStep), Px(xv) - 10, Height - Bottom + 18, SKTextAlign.Left, font, text);
        }
        foreach (double yv in TicksBetween(yMin, yMax, yStep))
        {
            canvas.DrawLine(Left, Py(yv), Width - Right, Py(yv), grid);
            canvas.DrawText(Tick(yv, yStep), 8, Py(yv) + 4, SKTextAlign.Left, font, text);
        }
        canvas.DrawLine(Left, Height - Bottom, Width - Right, Height - Bottom, axis);
        canvas.DrawLine(Left, Top, Left, Height - Bottom, axis);
        canvas.DrawText(_xLabel, Left + 150, Height - 12, SKTextAlign.Left, font, text);
        canvas.DrawText(_yLabel, 8, Top - 8, SKTextAlign.Left, font, text);
        using (var titleFont = new SKFont(SKTypeface.Default, 16) { Embolden = true })
            canvas.DrawText(_title, Left, 22, SKTextAlign.Left, titleFont, text);
        if (_reference is var (rx0, ry0, rx1, ry1))
            using (var dashed = new SKPaint { Color = SKColors.Gray, StrokeWidth = 1, PathEffect = SKPathEffect.CreateDash(new[] { 6f, 4f }, 0), IsAntialias = true })
                canvas.DrawLine(Px(rx0), Py(ry0), Px(rx1), Py(ry1), dashed);

        canvas.Save();
        canvas.ClipRect(SKRect.Create(Left, Top, Width - Left - Right, Height - Top - Bottom));
        for (int s = 0; s < _series.Count; s++)
        {
            var series = _series[s];
            var color = series.Color ?? Palette[s % Palette.Length];
            using var paint = new SKPaint { Color = color, StrokeWidth = series.Size, IsAntialias = true, Style = series.Kind is Kind.Bars or Kind.Points ? SKPaintStyle.Fill : SKPaintStyle.Stroke };
            switch (series.Kind)
            {
                case Kind.Bars:
                    float half = series.X.Length > 1 ? (Px(series.X[1]) - Px(series.X[0])) * 0.42f : 10;
                    for (int i = 0; i < series.X.Length; i++)
                        canvas.DrawRect(SKRect.Create(Px(series.X[i]) - half, Py(series.Y[i]), 2 * half, Py(yMin) - Py(series.Y[i])), paint);
                    break;
                case Kind.Points:
                    for (int i = 0; i < series.X.Length; i++) canvas.DrawCircle(Px(series.X[i]), Py(series.Y[i]), series.Size, paint);
                    break;
                case Kind.Ellipses:
                    foreach (var ellipse in series.Ellipses!)
                    {
                        using var outline = new SKPath();
                        bool first = true;
                        foreach (var (x, y) in ellipse.Outline())
                        {
                            if (first) outline.MoveTo(Px(x), Py(y)); else outline.LineTo(Px(x), Py(y));
                            first = false;
                        }
                        canvas.DrawPath(outline, paint);
                    }
                    break;
                default:
                    using (var line = new SKPath())
                    {
                        for (int i = 0; i < series.X.Length; i++)
                            if (i == 0) line.MoveTo(Px(series.X[i]), Py(series.Y[i])); else line.LineTo(Px(series.X[i]), Py(series.Y[i]));
                        canvas.DrawPath(line, paint);
                    }
                    break;
            }
        }
        using (var marker = new SKPaint { Color = new SKColor(200, 0, 0), StrokeWidth = 1.5f, PathEffect = SKPathEffect.CreateDash(new[] { 5f, 3f }, 0), IsAntialias = true })
        using (var markerText = new SKPaint { Color = new SKColor(200, 0, 0), IsAntialias = true })
        using (var markerFont = new SKFont(SKTypeface.Default, 12))
            for (int m = 0; m < _markers.Count; m++)
            {
                var (x, label) = _markers[m];
                canvas.DrawLine(Px(x), Top, Px(x), Height - Bottom, marker);
                // Below the legend, one line per marker, so that neither overlaps the other; on the line's left when the
                // right of it has no room (a threshold near the largest value would lose its label at the edge).
                float textX = Px(x) + 4, width = markerFont.MeasureText(label);
                if (textX + width > Width - Right) textX = Math.Max(Left, Px(x) - 4 - width);
                canvas.DrawText(label, textX, Top + 36 + 18 * _series.Count + 15 * m, SKTextAlign.Left, markerFont, markerText);
            }
        canvas.Restore();

        // Legend, top right.
        using var backdrop = new SKPaint { Color = new SKColor(255, 255, 255, 220), Style = SKPaintStyle.Fill };
        // As wide as the longest label (named data sets make long ones), never wider than the plot.
        float legend = Math.Min(Width - Left - Right, 28 + _series.Select(s => font.MeasureText(s.Label)).DefaultIfEmpty(0).Max());
        for (int s = 0; s < _series.Count; s++)
        {
            using var swatch = new SKPaint { Color = (_series[s].Color ?? Palette[s % Palette.Length]).WithAlpha(255), Style = SKPaintStyle.Fill };
            canvas.DrawRect(SKRect.Create(Width - Right - legend - 2, Top + 5 + 18 * s, legend, 18), backdrop);
            canvas.DrawRect(SKRect.Create(Width - Right - legend + 2, Top + 8 + 18 * s, 12, 12), swatch);
            canvas.DrawText(_series[s].Label, Width - Right - legend + 20, Top + 19 + 18 * s, SKTextAlign.Left, font, text);
        }
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        Persistence.AtomicFile.WriteAllBytes(path, data.ToArray());
    }
}
