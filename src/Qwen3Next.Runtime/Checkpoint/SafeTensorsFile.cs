using System.IO.MemoryMappedFiles;

namespace Qwen3Next.Checkpoint;

/// <summary>
/// One safetensors file, memory-mapped read-only and validated when opened: the header
/// must describe dense, in-bounds, non-overlapping tensors whose sizes match their dtype
/// and shape. Nothing is read into managed memory except the JSON header.
/// </summary>
public sealed unsafe class SafeTensorsFile : IDisposable, ITensorStorage
{
    private readonly MemoryMappedFile map;
    private readonly MemoryMappedViewAccessor accessor;
    private readonly byte* basePointer;
    private readonly long length;
    private int disposed;

    private SafeTensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor accessor, byte* basePointer, long length)
    {
        Path = path;
        this.map = map;
        this.accessor = accessor;
        this.basePointer = basePointer;
        this.length = length;
    }

    public string Path { get; }

    public long Length => length;

    public IReadOnlyDictionary<string, TensorView> Tensors { get; private set; } = new Dictionary<string, TensorView>();

    public IReadOnlyDictionary<string, string> Metadata { get; private set; } = new Dictionary<string, string>();

    public bool IsDisposed => Volatile.Read(ref disposed) != 0;

    public TensorView this[string name] =>
        Tensors.TryGetValue(name, out var view)
            ? view
            : throw new MissingTensorException("not present in this file", Path, name);

    public static SafeTensorsFile Open(string path)
    {
        string fullPath = System.IO.Path.GetFullPath(path);
        FileStream stream;
        try
        {
            stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException($"cannot open: {e.Message}", fullPath, inner: e);
        }

        long fileLength = stream.Length;
        if (fileLength < SafeTensorsHeader.LengthPrefixBytes)
        {
            stream.Dispose();
            throw new SafeTensorsFormatException(
                $"file is {fileLength} bytes, shorter than the 8-byte header length prefix", fullPath);
        }

        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? accessor = null;
        SafeTensorsFile? file = null;
        try
        {
            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            accessor = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* pointer = null;
            accessor.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            file = new SafeTensorsFile(fullPath, map, accessor, pointer + accessor.PointerOffset, fileLength);
            var header = SafeTensorsHeader.Parse(file, file.basePointer, fileLength);
            file.Tensors = header.Tensors;
            file.Metadata = header.Metadata;
            return file;
        }
        catch
        {
            if (file is not null)
            {
                file.Dispose();
            }
            else
            {
                accessor?.Dispose();
                if (map is null)
                {
                    stream.Dispose();
                }
                else
                {
                    map.Dispose();
                }
            }

            throw;
        }
    }

    public bool TryGet(string name, out TensorView? view)
    {
        if (Tensors.TryGetValue(name, out var found))
        {
            view = found;
            return true;
        }

        view = null;
        return false;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        accessor.SafeMemoryMappedViewHandle.ReleasePointer();
        accessor.Dispose();
        map.Dispose();
    }

    public byte* AddressOf(long offset)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        return basePointer + offset;
    }
}
