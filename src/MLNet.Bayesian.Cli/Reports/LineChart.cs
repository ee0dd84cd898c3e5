using System.Globalization;
using SkiaSharp;

namespace MLNet.Bayesian.Cli.Reports;

/// <summary>
/// A minimal line and bar chart written as PNG with SkiaSharp 2.88, the version ML.NET's ImageAnalytics
/// needs. (ScottPlot 5, the plotting library served here, requires SkiaSharp 3, which breaks LoadImages in
/// the same process: SKBitmap.GetPixelSpan is gone.)
/// </summary>
internal sealed class LineChart
{
    const int Width = 720, Height = 480, Left = 70, Right = 20, Top = 56, Bottom = 55;
    static readonly SKColor[] Palette = { new(31, 119, 180), new(255, 127, 14), new(44, 160, 44), new(214, 39, 40), new(148, 103, 189) };
    readonly List<(string Label, double[] X, double[] Y, bool Bars)> _series = new();
    readonly string _title, _xLabel, _yLabel;
    double? _xMin, _xMax, _yMin, _yMax;
    (double X0, double Y0, double X1, double Y1)? _reference;

    public LineChart(string title, string xLabel, string yLabel) { _title = title; _xLabel = xLabel; _yLabel = yLabel; }

    public LineChart Line(string label, double[] x, double[] y) { _series.Add((label, x, y, false)); return this; }
    public LineChart Bars(string label, double[] x, double[] y) { _series.Add((label, x, y, true)); return this; }
    public LineChart Limits(double xMin, double xMax, double yMin, double yMax) { (_xMin, _xMax, _yMin, _yMax) = (xMin, xMax, yMin, yMax); return this; }
    public LineChart Reference(double x0, double y0, double x1, double y1) { _reference = (x0, y0, x1, y1); return this; }

    public void SavePng(string path)
    {
        double xMin = _xMin ?? _series.SelectMany(s => s.X).DefaultIfEmpty(0).Min(), xMax = _xMax ?? _series.SelectMany(s => s.X).DefaultIfEmpty(1).Max();
        double yMin = _yMin ?? Math.Min(0, _series.SelectMany(s => s.Y).DefaultIfEmpty(0).Min()), yMax = _yMax ?? _series.SelectMany(s => s.Y).DefaultIfEmpty(1).Max();
        if (xMax <= xMin) xMax = xMin + 1;
        if (yMax <= yMin) yMax = yMin + 1;
        float Px(double x) => (float)(Left + (x - xMin) / (xMax - xMin) * (Width - Left - Right));
        float Py(double y) => (float)(Height - Bottom - (y - yMin) / (yMax - yMin) * (Height - Top - Bottom));

        using var bitmap = new SKBitmap(Width, Height);
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        using var axis = new SKPaint { Color = SKColors.Black, StrokeWidth = 1, IsAntialias = true };
        using var grid = new SKPaint { Color = new SKColor(225, 225, 225), StrokeWidth = 1 };
        using var text = new SKPaint { Color = SKColors.Black, TextSize = 13, IsAntialias = true };
        for (int i = 0; i <= 5; i++)
        {
            double xv = xMin + i * (xMax - xMin) / 5, yv = yMin + i * (yMax - yMin) / 5;
            canvas.DrawLine(Px(xv), Top, Px(xv), Height - Bottom, grid);
            canvas.DrawLine(Left, Py(yv), Width - Right, Py(yv), grid);
            canvas.DrawText(xv.ToString("G3", CultureInfo.InvariantCulture), Px(xv) - 10, Height - Bottom + 18, text);
            canvas.DrawText(yv.ToString("G3", CultureInfo.InvariantCulture), 8, Py(yv) + 4, text);
        }
        canvas.DrawLine(Left, Height - Bottom, Width - Right, Height - Bottom, axis);
        canvas.DrawLine(Left, Top, Left, Height - Bottom, axis);
        canvas.DrawText(_xLabel, Left + 150, Height - 12, text);
        canvas.DrawText(_yLabel, 8, Top - 8, text);
        using (var title = new SKPaint { Color = SKColors.Black, TextSize = 16, IsAntialias = true, FakeBoldText = true })
            canvas.DrawText(_title, Left, 22, title);
        if (_reference is var (rx0, ry0, rx1, ry1))
            using (var dashed = new SKPaint { Color = SKColors.Gray, StrokeWidth = 1, PathEffect = SKPathEffect.CreateDash(new[] { 6f, 4f }, 0), IsAntialias = true })
                canvas.DrawLine(Px(rx0), Py(ry0), Px(rx1), Py(ry1), dashed);

        for (int s = 0; s < _series.Count; s++)
        {
            var (label, xs, ys, bars) = _series[s];
            using var paint = new SKPaint { Color = Palette[s % Palette.Length], StrokeWidth = 2, IsAntialias = true, Style = bars ? SKPaintStyle.Fill : SKPaintStyle.Stroke };
            if (bars)
            {
                float half = xs.Length > 1 ? (Px(xs[1]) - Px(xs[0])) * 0.42f : 10;
                for (int i = 0; i < xs.Length; i++) canvas.DrawRect(SKRect.Create(Px(xs[i]) - half, Py(ys[i]), 2 * half, Py(yMin) - Py(ys[i])), paint);
            }
            else
            {
                using var line = new SKPath();
                for (int i = 0; i < xs.Length; i++)
                    if (i == 0) line.MoveTo(Px(xs[i]), Py(ys[i])); else line.LineTo(Px(xs[i]), Py(ys[i]));
                canvas.DrawPath(line, paint);
            }
            using var swatch = new SKPaint { Color = Palette[s % Palette.Length], Style = SKPaintStyle.Fill };
            using var backdrop = new SKPaint { Color = new SKColor(255, 255, 255, 220), Style = SKPaintStyle.Fill };
            canvas.DrawRect(SKRect.Create(Width - Right - 254, Top + 5 + 18 * s, 252, 18), backdrop);
            canvas.DrawRect(SKRect.Create(Width - Right - 250, Top + 8 + 18 * s, 12, 12), swatch);
            canvas.DrawText(label, Width - Right - 232, Top + 19 + 18 * s, text);
        }
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        using var file = File.Create(path);
        data.SaveTo(file);
    }
}
