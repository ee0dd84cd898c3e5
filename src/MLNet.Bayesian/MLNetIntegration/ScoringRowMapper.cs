using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.MLNetIntegration;

/// <summary>
/// Row-by-row scoring for PredictionEngine: the output columns of one input row, computed on first use
/// and cached for that row's position.
/// </summary>
internal sealed class ScoringRowMapper : IRowToRowMapper
{
    readonly BayesianImageClassificationTransformer _transformer;

    public ScoringRowMapper(BayesianImageClassificationTransformer transformer, DataViewSchema inputSchema, DataViewSchema outputSchema)
    {
        _transformer = transformer;
        InputSchema = inputSchema;
        OutputSchema = outputSchema;
    }

    public DataViewSchema InputSchema { get; }
    public DataViewSchema OutputSchema { get; }

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        var columns = dependingColumns.ToList();
        var result = columns.Where(c => c.Index < InputSchema.Count).Select(c => InputSchema[c.Index]).ToList();
        if (columns.Any(c => c.Index >= InputSchema.Count)) result.Add(InputSchema[_transformer.Input.ColumnName]);
        return result.Distinct();
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
        => new Row(_transformer, OutputSchema, input, activeColumns.Any(c => c.Index >= InputSchema.Count));

    sealed class Row : DataViewRow
    {
        readonly BayesianImageClassificationTransformer _transformer;
        readonly DataViewRow _input;
        readonly int _inputCount;
        readonly bool _scoring;
        readonly ImageColumnReader? _reader;
        readonly Action<Span<float>, long>? _readImage;
        PredictiveDistribution? _scores;
        long _scoredPosition = -1;

        public Row(BayesianImageClassificationTransformer transformer, DataViewSchema schema, DataViewRow input, bool scoring)
        {
            _transformer = transformer; Schema = schema; _input = input; _inputCount = input.Schema.Count; _scoring = scoring;
            if (scoring)
            {
                _reader = transformer.Reader(input.Schema);
                _readImage = _reader.CreateReader(input);
            }
        }

        public override DataViewSchema Schema { get; }
        public override long Position => _input.Position;
        public override long Batch => _input.Batch;
        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column)
            => column.Index < _inputCount ? _input.IsColumnActive(_input.Schema[column.Index]) : _scoring;

        (PredictiveDistribution, int) Current()
        {
            if (_scores is null || _scoredPosition != _input.Position)
            {
                var pixels = new float[_reader!.Size];
                _readImage!(pixels, _input.Position);
                _scores = _transformer.Score(pixels, _input.Position);
                _scoredPosition = _input.Position;
            }
            return (_scores, 0);
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index < _inputCount) return _input.GetGetter<TValue>(_input.Schema[column.Index]);
            if (!_scoring) throw new InvalidOperationException($"Column '{column.Name}' is not active.");
            return _transformer.Getter(column.Index - _inputCount, Current) as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' is {column.Type}; it cannot be read as {typeof(TValue).Name}.");
        }
    }
}
