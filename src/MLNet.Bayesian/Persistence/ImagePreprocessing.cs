using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace MLNet.Bayesian.Persistence;

/// <summary>
/// The one road from an image to the network's pixels, used by training, in-memory scoring and the saved model
/// alike: ML.NET's own ResizeImages (Fill, only when the size differs), ConvertToGrayscale (gray models) and
/// ExtractPixels (planar, scaled by 1/255). The saved model holds these transformers; in memory the same fitted
/// transformers run on one image at a time (<see cref="ImagePixels"/>), so every input agrees bit for bit,
/// whatever its size, colour type or format.
/// </summary>
internal static class ImagePreprocessing
{
    internal const string ResizedColumn = "__mlnb_resized", GrayColumn = "__mlnb_gray";

    /// <summary>ResizeImages, ConvertToGrayscale for one channel, ExtractPixels into <paramref name="pixelsColumn"/>.</summary>
    public static IEstimator<ITransformer> Estimator(MLContext ml, ImageInputSpec spec, string pixelsColumn)
    {
        if (spec.Kind == ImageColumnKind.Vector) throw new ArgumentException("A pixel-vector column needs no image preprocessing.");
        if (spec.Channels is not (1 or 3)) throw new ArgumentException($"Images become 1 (gray) or 3 (RGB) channels, not {spec.Channels}.");
        IEstimator<ITransformer> chain = ml.Transforms.ResizeImages(ResizedColumn, spec.Width, spec.Height, spec.ColumnName, ImageResizingEstimator.ResizingKind.Fill);
        string source = ResizedColumn;
        if (spec.Channels == 1)
        {
            chain = chain.Append(ml.Transforms.ConvertToGrayscale(GrayColumn, ResizedColumn));
            source = GrayColumn;
        }
        return chain.Append(ml.Transforms.ExtractPixels(pixelsColumn, source,
            spec.Channels == 1 ? ImagePixelExtractingEstimator.ColorBits.Red : ImagePixelExtractingEstimator.ColorBits.Rgb,
            ImagePixelExtractingEstimator.ColorsOrder.ARGB, interleavePixelColors: false, scaleImage: 1f / 255f));
    }

    /// <summary>The intermediate columns the chain adds besides the pixels.</summary>
    public static IEnumerable<string> Intermediates(ImageInputSpec spec)
        => spec.Channels == 1 ? new[] { ResizedColumn, GrayColumn } : new[] { ResizedColumn };

    /// <summary>The chain fitted on an empty view whose only column is the image column.</summary>
    public static ITransformer Fit(MLContext ml, ImageInputSpec spec, string pixelsColumn)
        => Estimator(ml, spec, pixelsColumn).Fit(EmptyImages(ml, spec.ColumnName));

    /// <summary>An empty data view with one MLImage column.</summary>
    public static IDataView EmptyImages(MLContext ml, string column)
    {
        var schema = SchemaDefinition.Create(typeof(ImageRow));
        schema[0].ColumnName = column;
        schema[0].ColumnType = new ImageDataViewType();
        return ml.Data.LoadFromEnumerable(Array.Empty<ImageRow>(), schema);
    }

    sealed class ImageRow { [ImageType(1, 1)] public MLImage? Image { get; set; } }
}

/// <summary>
/// Runs the fitted preprocessing chain on one image at a time: the image goes in through a one-column row and
/// the pixels come out of ML.NET's own transformers. One instance per reader (it holds a row); not thread-safe.
/// </summary>
internal sealed class ImagePixels
{
    readonly SourceRow _source;
    readonly ValueGetter<VBuffer<float>> _pixels;
    VBuffer<float> _buffer;

    public ImagePixels(ITransformer chain, string imageColumn, string pixelsColumn)
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumn(imageColumn, new ImageDataViewType());
        _source = new SourceRow(builder.ToSchema());
        var mapper = chain.GetRowToRowMapper(_source.Schema);
        var output = mapper.OutputSchema[pixelsColumn];
        var row = mapper.GetRow(_source, new[] { output });
        _pixels = row.GetGetter<VBuffer<float>>(output);
    }

    /// <summary>Writes the pixels of <paramref name="image"/> into <paramref name="destination"/> (C x H x W).</summary>
    public void Extract(MLImage image, Span<float> destination)
    {
        _source.Next(image);
        _pixels(ref _buffer);
        if (_buffer.Length != destination.Length)
            throw new InvalidOperationException($"The preprocessing produced {_buffer.Length} values for {destination.Length} expected.");
        _buffer.GetValues().CopyTo(destination);
    }

    /// <summary>A row whose one column is the image handed in last; its position moves with every image.</summary>
    sealed class SourceRow : DataViewRow
    {
        MLImage? _image;
        long _position = -1;

        public SourceRow(DataViewSchema schema) => Schema = schema;

        public void Next(MLImage image) { _image = image; _position++; }

        public override DataViewSchema Schema { get; }
        public override long Position => _position;
        public override long Batch => 0;
        public override bool IsColumnActive(DataViewSchema.Column column) => true;
        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_position, 0);
        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            ValueGetter<MLImage> getter = (ref MLImage value) => value = _image!;
            return getter as ValueGetter<TValue> ?? throw new InvalidOperationException($"Column '{column.Name}' is an image, not {typeof(TValue).Name}.");
        }
    }
}
