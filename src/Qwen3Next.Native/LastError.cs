using System.Runtime.InteropServices;
using System.Text;

namespace Qwen3Next.Native;

/// <summary>The message of the last failed call on each thread, as a NUL-terminated UTF-8 string the library owns: it
/// stays valid until the next failing call on the same thread (qn_last_error in native/qwen3next.h).</summary>
internal static unsafe class LastError
{
    [ThreadStatic]
    private static byte* message;

    public static byte* Pointer => message is null ? Set("no error") : message;

    public static byte* Set(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var copy = (byte*)NativeMemory.Alloc((nuint)bytes.Length + 1);
        bytes.CopyTo(new Span<byte>(copy, bytes.Length));
        copy[bytes.Length] = 0;
        NativeMemory.Free(message);
        message = copy;
        return copy;
    }
}
