using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.Bayesian.Data;

/// <summary>A row of an <see cref="ImageSet"/> as an ML.NET data view sees it.</summary>
internal sealed class ImagePixelsRow
{
    /// <summary>Class name.</summary>
    public string Label { get; set; } = "";
    /// <summary>Pixels, C x H x W, in [0, 1].</summary>
    public float[] Pixels { get; set; } = Array.Empty<float>();
}

/// <summary>Turns an <see cref="ImageSet"/> into an <see cref="IDataView"/> with a known-size pixel vector.</summary>
public static class ImageSetDataView
{
    /// <summary>Column names of the data view.</summary>
    public const string LabelColumn = "Label", PixelsColumn = "Pixels";

    /// <summary>A data view with a text <c>Label</c> column and a fixed-size float vector <c>Pixels</c>.</summary>
    public static IDataView ToDataView(this ImageSet set, MLContext mlContext)
    {
        var schema = SchemaDefinition.Create(typeof(ImagePixelsRow));
        schema[PixelsColumn].ColumnType = new VectorDataViewType(NumberDataViewType.Single, set.Channels, set.Height, set.Width);
        var rows = Enumerable.Range(0, set.Count).Select(i => new ImagePixelsRow
        {
            Label = set.ClassNames[set.Labels[i]],
            Pixels = set.Image(i).ToArray(),
        });
        return mlContext.Data.LoadFromEnumerable(rows, schema);
    }

    /// <summary>
    /// Reads a data view with a known-size float vector column of pixels in [0, 1] and a key label column
    /// back into an <see cref="ImageSet"/>. Class names come from the key's values when it has them.
    /// </summary>
    public static ImageSet ToImageSet(IDataView data, string labelColumn, string pixelsColumn, int channels, int height, int width)
    {
        var labelCol = data.Schema.GetColumnOrNull(labelColumn)
            ?? throw new ArgumentException($"Column '{labelColumn}' was not found in the data.");
        var pixelCol = data.Schema.GetColumnOrNull(pixelsColumn)
            ?? throw new ArgumentException($"Column '{pixelsColumn}' was not found in the data.");
        if (labelCol.Type is not KeyDataViewType key)
            throw new ArgumentException($"Label column '{labelColumn}' is {labelCol.Type}; it must be a key. Add mlContext.Transforms.Conversion.MapValueToKey(\"{labelColumn}\").");
        int size = channels * height * width;
        if (pixelCol.Type is not VectorDataViewType { ItemType: NumberDataViewType } vec || vec.ItemType.RawType != typeof(float) || vec.Size != size)
            throw new ArgumentException($"Column '{pixelsColumn}' is {pixelCol.Type}; a vector of {size} floats ({channels}x{height}x{width}) is needed.");
        var names = KeyNames(labelCol, (int)key.Count);
        var pixels = new List<float>();
        var labels = new List<int>();
        using var cursor = data.GetRowCursor(new[] { labelCol, pixelCol });
        var getLabel = cursor.GetGetter<uint>(labelCol);
        var getPixels = cursor.GetGetter<VBuffer<float>>(pixelCol);
        uint label = 0;
        VBuffer<float> buffer = default;
        long row = 0;
        while (cursor.MoveNext())
        {
            getLabel(ref label);
            if (label == 0) throw new InvalidDataException($"Row {row}: label column '{labelColumn}' is missing (key 0).");
            getPixels(ref buffer);
            foreach (float v in buffer.DenseValues()) pixels.Add(v);
            labels.Add((int)label - 1);
            row++;
        }
        return new ImageSet(pixels.ToArray(), labels.ToArray(), channels, height, width, names);
    }

    /// <summary>The text values of a key column's annotation, or "0", "1", ... when it has none.</summary>
    public static IReadOnlyList<string> KeyNames(DataViewSchema.Column column, int count)
    {
        if (column.HasKeyValues())
        {
            VBuffer<ReadOnlyMemory<char>> values = default;
            column.GetKeyValues(ref values);
            return values.DenseValues().Select(v => v.ToString()).ToArray();
        }
        return Enumerable.Range(0, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }
}
