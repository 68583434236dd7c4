using Qwen3Next.Cuda;

namespace Qwen3Next.Backends.Ptx;

/// <summary>
/// The device copy of a <see cref="SequenceBatch"/>'s int32 arrays (<see cref="SequenceBatch.Packed"/>), in one workspace
/// slot. A forward pass hands the same batch to every layer, so it is uploaded once per pass: the copy is kept for as
/// long as the same (immutable) batch instance, or a batch with the same arrays, comes back (a repeated single-sequence
/// op uploads nothing, so it can be captured into a graph). The upload is ordered on the compute stream after every
/// kernel that read the previous batch.
/// </summary>
internal sealed class PtxBatchMetadata(PtxBackend backend)
{
    private int[]? uploaded;
    private long uploadedMoves;

    /// <summary>The batch's arrays on the device, as slices named after the kernel arguments.</summary>
    public Views Of(SequenceBatch batch)
    {
        var layout = batch.Layout;
        var span = backend.Workspace.Get<int>("batch", layout.Total).Slice(0, layout.Total);
        var packed = batch.Packed;
        // A grown workspace may reuse an address, so a move invalidates the upload too.
        bool same = uploadedMoves == backend.Workspace.Moves && (ReferenceEquals(packed, uploaded) || (uploaded is not null && packed.AsSpan().SequenceEqual(uploaded)));
        if (!same)
        {
            backend.CopyToDevice<int>(packed, span);
            (uploaded, uploadedMoves) = (packed, backend.Workspace.Moves);
        }

        return new Views(span, layout);
    }

    /// <summary>Slices of the uploaded arrays (see <see cref="BatchLayout"/>).</summary>
    public readonly struct Views(DeviceSpan<int> all, BatchLayout layout)
    {
        public DeviceSpan<int> CuSeqlens => all.Slice(layout.CuSeqlens, layout.Sequences + 1);

        public DeviceSpan<int> Positions => all.Slice(layout.Positions, layout.Tokens);

        public DeviceSpan<int> SlotIds => all.Slice(layout.SlotIds, layout.Sequences);

        public DeviceSpan<int> ContextLengths => all.Slice(layout.ContextLengths, layout.Sequences);

        public DeviceSpan<int> BlockTables => all.Slice(layout.BlockTables, (long)layout.Sequences * layout.MaxPages);

        /// <summary>[chunks, 2]; at least one element so an empty list still has an address.</summary>
        public DeviceSpan<int> ChunkIndices => all.Slice(layout.ChunkIndices, Math.Max(1, 2 * layout.Chunks));

        public DeviceSpan<int> ChunkOffsets => all.Slice(layout.ChunkOffsets, layout.Sequences + 1);
    }
}
