using Qwen3Next.Checkpoint;
using NativeTokenizer = Tokenizers.DotNet.Tokenizer;
using NativeTokenizerException = Tokenizers.DotNet.TokenizerException;

namespace Qwen3Next.Tokenization;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> of the Qwen family. Encoding runs Hugging Face's own Rust <c>tokenizers</c>
/// (0.22.2, through Tokenizers.DotNet), so the ids are the ones HF's Python and JavaScript libraries give, special
/// tokens, normalisation and Unicode tables included. Decoding is done here from the vocabulary, because the binding's
/// decode always drops special tokens: <see cref="Decode"/> keeps them unless asked not to, so text round-trips.
/// </summary>
public sealed class QwenTokenizer
{
    public const string FileName = "tokenizer.json";

    private readonly NativeTokenizer native;
    private readonly TokenizerJson json;
    private readonly Lock nativeGate = new();

    private QwenTokenizer(NativeTokenizer native, TokenizerJson json, string path, ChatTemplate? chat)
    {
        this.native = native;
        this.json = json;
        Path = path;
        Chat = chat;
    }

    /// <summary>The tokenizer.json this was loaded from.</summary>
    public string Path { get; }

    /// <summary>Special added tokens by content (<c>&lt;|im_end|&gt;</c> → 151645).</summary>
    public IReadOnlyDictionary<string, int> SpecialTokens => json.SpecialTokens;

    /// <summary>Every added token by content, special or not (Qwen3's <c>&lt;think&gt;</c> and <c>&lt;tool_call&gt;</c> are not special).</summary>
    public IReadOnlyDictionary<string, int> AddedTokens => json.AddedTokenIds;

    /// <summary>One more than the highest id: every id this tokenizer can produce is below it.</summary>
    public int VocabularySize => json.Tokens.Length;

    /// <summary>The chat template of the <c>tokenizer_config.json</c> beside the tokenizer.json, or null when there is none.</summary>
    public ChatTemplate? Chat { get; }

    /// <summary>The tokenizer of a model folder, or null when it has no tokenizer.json.</summary>
    public static QwenTokenizer? TryLoadFromModel(string folder)
    {
        string path = System.IO.Path.Combine(folder, FileName);
        return File.Exists(path) ? Load(path) : null;
    }

    /// <summary>Loads a tokenizer.json, and the chat template from the tokenizer_config.json beside it when there is one.</summary>
    public static QwenTokenizer Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: no such tokenizer file.", path);
        }

        var json = TokenizerJson.Parse(path);
        NativeTokenizer native;
        try
        {
            native = new NativeTokenizer(vocabPath: path);
        }
        catch (NativeTokenizerException e)
        {
            throw new CheckpointException($"Hugging Face tokenizers cannot load it: {e.Message}", path, inner: e);
        }
        catch (DllNotFoundException e)
        {
            throw new PlatformNotSupportedException(
                $"Hugging Face's tokenizers library (libhf_tokenizers) is not available for {System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier}; "
                + "this runtime references Tokenizers.DotNet.runtime.linux-x64 — add the Tokenizers.DotNet.runtime package of your platform.", e);
        }

        string config = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!, ChatTemplate.ConfigFileName);
        return new QwenTokenizer(native, json, path, File.Exists(config) ? ChatTemplate.Load(config, json.AddedTokenIds) : null);
    }

    /// <summary>The ids Hugging Face gives for <paramref name="text"/> (no BOS is added: Qwen's post-processor adds none).
    /// Special tokens in the text are matched before normalisation, as HF does.</summary>
    /// <exception cref="ArgumentException">The text holds a lone UTF-16 surrogate, which is not Unicode text.</exception>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0)
        {
            return [];
        }

        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsSurrogate(text[i]))
            {
                if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                {
                    i++;
                    continue;
                }

                throw new ArgumentException($"The text holds a lone surrogate U+{(int)text[i]:X4} at index {i}; only valid Unicode text can be tokenized.", nameof(text));
            }
        }

        uint[] ids;
        lock (nativeGate)
        {
            try
            {
                ids = native.Encode(text);
            }
            catch (NativeTokenizerException e)
            {
                throw new ArgumentException($"Hugging Face tokenizers could not encode the text: {e.Message}", nameof(text), e);
            }
        }

        return Array.ConvertAll(ids, id => (int)id);
    }

    /// <summary>The text of <paramref name="ids"/>: vocabulary tokens through the byte-level alphabet, added tokens as
    /// their content (special ones left out when <paramref name="skipSpecialTokens"/>). A token that ends inside a
    /// multi-byte character decodes to U+FFFD until the tokens that complete it are decoded with it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is not in the vocabulary.</exception>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var text = new System.Text.StringBuilder();
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            string token = (uint)id < (uint)json.Tokens.Length && json.Tokens[id] is { } t
                ? t
                : throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is not in the vocabulary [0, {json.Tokens.Length}).");
            if (json.AddedTokens.TryGetValue(id, out bool special))
            {
                text.Append(ByteLevelDecoder.Utf8(bytes));
                bytes.Clear();
                if (!(special && skipSpecialTokens))
                {
                    text.Append(token);
                }
            }
            else if (!ByteLevelDecoder.TryAppendBytes(token, bytes))
            {
                throw new InvalidOperationException($"{Path}: vocabulary token {id} ('{token}') has a character outside the byte-level alphabet.");
            }
        }

        return text.Append(ByteLevelDecoder.Utf8(bytes)).ToString();
    }

    /// <summary>Whether <paramref name="id"/> is a special added token (<c>&lt;|im_end|&gt;</c>, <c>&lt;think&gt;</c>, …).</summary>
    public bool IsSpecial(int id) => json.AddedTokens.TryGetValue(id, out bool special) && special;
}
