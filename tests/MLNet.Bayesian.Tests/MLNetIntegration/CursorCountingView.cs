using Microsoft.ML;

namespace MLNet.Bayesian.Tests.MLNetIntegration;

/// <summary>An IDataView that passes everything through and counts the cursors that read <c>column</c>: how many passes over the data a consumer made.</summary>
internal sealed class CursorCountingView : IDataView
{
    readonly IDataView _inner;
    readonly string _column;
    int _reading;

    public CursorCountingView(IDataView inner, string column) { _inner = inner; _column = column; }

    /// <summary>Cursors opened so far with <c>column</c> active.</summary>
    public int CursorsReading => _reading;

    public bool CanShuffle => _inner.CanShuffle;
    public DataViewSchema Schema => _inner.Schema;
    public long? GetRowCount() => _inner.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = columnsNeeded.ToList();
        if (needed.Any(c => c.Name == _column)) Interlocked.Increment(ref _reading);
        return _inner.GetRowCursor(needed, rand);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => new[] { GetRowCursor(columnsNeeded, rand) };
}
