namespace Qwen3Next; internal static class Placeholder {}
