using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.MLNetIntegration;

/// <summary>
/// The lazy output of <see cref="BayesianImageClassificationTransformer.Transform"/>: the input's columns
/// plus the output columns. A cursor walks the input twice in step: a look-ahead cursor reads the
/// images of the next batch and scores them together, while the main cursor serves the input's own
/// columns row by row. Only one batch of images and scores is held at a time.
/// </summary>
internal sealed class ScoredDataView : IDataView
{
    readonly BayesianImageClassificationTransformer _transformer;
    readonly IDataView _input;

    public ScoredDataView(BayesianImageClassificationTransformer transformer, IDataView input, DataViewSchema schema)
    {
        _transformer = transformer;
        _input = input;
        Schema = schema;
    }

    public bool CanShuffle => false;
    public DataViewSchema Schema { get; }
    public long? GetRowCount() => _input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        int inputCount = _input.Schema.Count;
        var needed = columnsNeeded.ToList();
        var inputNeeded = needed.Where(c => c.Index < inputCount).Select(c => _input.Schema[c.Index]).ToList();
        bool scoring = needed.Any(c => c.Index >= inputCount);
        var main = _input.GetRowCursor(inputNeeded);
        DataViewRowCursor? lookAhead = scoring ? _input.GetRowCursor(new[] { _input.Schema[_transformer.Input.ColumnName] }) : null;
        return new Cursor(_transformer, Schema, inputCount, main, lookAhead);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => new[] { GetRowCursor(columnsNeeded, rand) };

    sealed class Cursor : DataViewRowCursor
    {
        readonly BayesianImageClassificationTransformer _transformer;
        readonly int _inputCount;
        readonly DataViewRowCursor _main;
        readonly DataViewRowCursor? _lookAhead;
        readonly Action<Span<float>, long>? _readImage;
        readonly ImageColumnReader? _reader;
        PredictiveDistribution? _batch;
        int _row = -1;

        public Cursor(BayesianImageClassificationTransformer transformer, DataViewSchema schema, int inputCount, DataViewRowCursor main, DataViewRowCursor? lookAhead)
        {
            _transformer = transformer; Schema = schema; _inputCount = inputCount; _main = main; _lookAhead = lookAhead;
            if (lookAhead is not null)
            {
                _reader = transformer.Reader(lookAhead.Schema);
                _readImage = _reader.CreateReader(lookAhead);
            }
        }

        public override DataViewSchema Schema { get; }
        public override long Position => _main.Position;
        public override long Batch => 0;
        public override ValueGetter<DataViewRowId> GetIdGetter() => _main.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column)
            => column.Index < _inputCount ? _main.IsColumnActive(_main.Schema[column.Index]) : _lookAhead is not null;

        public override bool MoveNext()
        {
            if (!_main.MoveNext()) return false;
            if (_lookAhead is null) return true;
            _row++;
            if (_batch is null || _row >= _batch.Count)
            {
                ScoreNextBatch();
                _row = 0;
            }
            return true;
        }

        // One batch of pixels, reused: a fresh array per batch (256 images of 28x28 already take 800 KB) lands on the
        // large-object heap and brings on a full collection every few batches.
        float[]? _pixels;

        void ScoreNextBatch()
        {
            int size = _reader!.Size, capacity = _transformer.BatchSize, n = 0;
            var pixels = _pixels ??= new float[capacity * size];
            long first = _lookAhead!.Position + 1;
            while (n < capacity && _lookAhead!.MoveNext())
            {
                _readImage!(pixels.AsSpan(n * size, size), _lookAhead.Position);
                n++;
            }
            if (n == 0) throw new InvalidOperationException("The input ended for the image column before it ended for the other columns.");
            _batch = _transformer.Score(pixels.AsSpan(0, n * size), first);
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index < _inputCount) return _main.GetGetter<TValue>(_main.Schema[column.Index]);
            if (_lookAhead is null) throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was created.");
            var getter = _transformer.Getter(column.Index - _inputCount, () => (_batch!, _row));
            return getter as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' is {column.Type}; it cannot be read as {typeof(TValue).Name}.");
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _main.Dispose();
                _lookAhead?.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
