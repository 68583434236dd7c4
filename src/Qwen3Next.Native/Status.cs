using Qwen3Next.Checkpoint;
using Qwen3Next.Graph;

namespace Qwen3Next.Native;

/// <summary>The status codes of native/qwen3next.h (QN_OK …); keep the two in step.</summary>
internal enum Status
{
    Ok = 0,
    InvalidArgument = 1,
    OutOfRange = 2,
    BadCheckpoint = 3,
    NonFinite = 4,
    InvalidState = 5,
    InvalidHandle = 6,
    BufferTooSmall = 7,
    Cancelled = 8,
    Unsupported = 9,
    Io = 10,
    Internal = 11,
}

/// <summary>Maps an exception to its status; the message goes to <see cref="LastError"/>.</summary>
internal static class StatusOf
{
    public static Status Exception(Exception e) => e switch
    {
        InvalidHandleException => Status.InvalidHandle,
        BufferTooSmallException => Status.BufferTooSmall,
        CheckpointException => Status.BadCheckpoint,
        NonFiniteValueException => Status.NonFinite,
        OperationCanceledException => Status.Cancelled,
        ArgumentOutOfRangeException => Status.OutOfRange,
        ArgumentException => Status.InvalidArgument,
        ObjectDisposedException or InvalidOperationException => Status.InvalidState,
        NotSupportedException => Status.Unsupported,
        IOException or UnauthorizedAccessException => Status.Io,
        _ => Status.Internal,
    };
}

internal sealed class InvalidHandleException(string message) : Exception(message);

internal sealed class BufferTooSmallException(string message) : Exception(message);
