#!/usr/bin/env python3
"""The C ABI's batch calls (qn_batch_*), through ctypes: sequences that start and finish at different steps, in one
batch with a reused slot, each generate what qn_generate gives them alone (the golden prompt its golden greedy tokens),
and every misuse is a status code with a message. Run by NativeAbiTests; exits 1 on failure.
    python3 tests/native/abi_batch.py LIB MODEL_DIR
"""
import ctypes
import sys

lib, model_dir = sys.argv[1], sys.argv[2]
qn = ctypes.CDLL(lib)
qn.qn_last_error.restype = ctypes.c_char_p
u64, i64, i32, f32 = ctypes.c_uint64, ctypes.c_int64, ctypes.c_int32, ctypes.c_float
CALLBACK = ctypes.CFUNCTYPE(i32, i32, ctypes.c_void_p)
qn.qn_batch_create.argtypes = [u64, i32, i32, i32, ctypes.POINTER(u64)]
qn.qn_batch_free.argtypes = [u64]
qn.qn_batch_add.argtypes = [u64, ctypes.POINTER(i64)]
qn.qn_batch_finish.argtypes = [u64, i64]
qn.qn_batch_step.argtypes = [u64, ctypes.POINTER(i64), ctypes.POINTER(i32), i32, ctypes.POINTER(i32)]
qn.qn_batch_logits.argtypes = [u64, i64, ctypes.POINTER(f32), i32]
qn.qn_sample.argtypes = [u64, ctypes.POINTER(f32), i32, ctypes.POINTER(i32)]
qn.qn_generate.argtypes = [u64, ctypes.POINTER(i32), i32, i32, u64, CALLBACK, ctypes.c_void_p, ctypes.POINTER(i32), ctypes.POINTER(i32)]
OK, INVALID_ARGUMENT, OUT_OF_RANGE, INVALID_STATE, INVALID_HANDLE, BUFFER_TOO_SMALL = 0, 1, 2, 5, 6, 7
GOLDEN_PROMPT = [280, 105, 145, 195, 83, 276, 128, 440, 506, 103, 168, 452, 37, 458, 424, 305, 190, 324, 389, 393,
                 248, 5, 86, 189, 146, 427, 258, 267, 493, 131, 246, 391, 83, 293, 492, 401, 258, 303, 432, 403]
GOLDEN_TOKENS = [301, 471, 365, 298, 382, 76, 304, 434]
failures = []
checks = 0


def expect(status, wanted, fragment, what):
    global checks
    checks += 1
    message = qn.qn_last_error().decode()
    if status != wanted or (fragment and fragment not in message):
        failures.append(f"{what}: status {status} (wanted {wanted}), message {message!r} (wanted {fragment!r})")
    return status == wanted


def step(batch, feeds, wanted=OK, fragment="", what="step"):
    """feeds: [(sequence, [tokens])] in one forward pass."""
    ids = (i64 * len(feeds))(*[s for s, _ in feeds])
    counts = (i32 * len(feeds))(*[len(t) for _, t in feeds])
    flat = [t for _, ts in feeds for t in ts]
    return expect(qn.qn_batch_step(batch, ids, counts, len(feeds), (i32 * max(1, len(flat)))(*flat)), wanted, fragment, what)


def greedy(batch, sequence):
    logits, token = (f32 * vocab.value)(), i32()
    expect(qn.qn_batch_logits(batch, sequence, logits, vocab.value), OK, "", f"logits of sequence {sequence}")
    expect(qn.qn_sample(0, logits, vocab.value, ctypes.byref(token)), OK, "", "greedy sample")
    return token.value


def alone(prompt, n):
    out, count = (i32 * n)(), i32()
    expect(qn.qn_generate(model.value, (i32 * len(prompt))(*prompt), len(prompt), n, 0, CALLBACK(lambda t, u: 0), None, out, ctypes.byref(count)),
           OK, "", "qn_generate")
    return list(out[:count.value])


model, vocab = u64(), i32()
expect(qn.qn_model_load(model_dir.encode(), b"reference", ctypes.byref(model)), OK, "", "load")
expect(qn.qn_model_vocab_size(model.value, ctypes.byref(vocab)), OK, "", "vocab size")
batch = u64()
expect(qn.qn_batch_create(model.value, 0, 48, 16, ctypes.byref(batch)), OUT_OF_RANGE, "1..65535 sequences", "no sequences")
expect(qn.qn_batch_create(model.value, 2, 48, 16, ctypes.byref(batch)), OK, "", "create a batch of 2 slots")
a, b, c = i64(), i64(), i64()
expect(qn.qn_batch_add(batch.value, ctypes.byref(a)), OK, "", "add A")
expect(qn.qn_batch_add(batch.value, ctypes.byref(b)), OK, "", "add B")
expect(qn.qn_batch_add(batch.value, ctypes.byref(c)), INVALID_STATE, "All 2 sequence slots are in use", "a third sequence")
logits = (f32 * vocab.value)()
expect(qn.qn_batch_logits(batch.value, a.value, logits, vocab.value), INVALID_STATE, "qn_batch_step first", "logits before a step")

# A (the golden prompt) and B prefill together; B decodes twice and finishes; C takes B's slot while A decodes.
prompt_b, prompt_c = [1, 2, 3, 4], [7]
step(batch.value, [(a.value, GOLDEN_PROMPT), (b.value, prompt_b)], what="prefill A and B")
expect(qn.qn_batch_logits(batch.value, a.value, logits, vocab.value - 1), BUFFER_TOO_SMALL, f"need {vocab.value} floats", "small buffer")
got_a, got_b, got_c = [greedy(batch.value, a.value)], [greedy(batch.value, b.value)], []
step(batch.value, [(a.value, [got_a[-1]]), (b.value, [got_b[-1]])], what="decode A and B")
got_a.append(greedy(batch.value, a.value))
got_b.append(greedy(batch.value, b.value))
expect(qn.qn_batch_finish(batch.value, b.value), OK, "", "finish B")
expect(qn.qn_batch_finish(batch.value, b.value), INVALID_ARGUMENT, "not in this batch", "finish B twice")
step(batch.value, [(b.value, [1])], INVALID_ARGUMENT, "not in this batch", "step a finished sequence")
expect(qn.qn_batch_add(batch.value, ctypes.byref(c)), OK, "", "add C in B's slot")
step(batch.value, [(c.value, prompt_c), (a.value, [got_a[-1]])], what="prefill C beside A's decode")
got_a.append(greedy(batch.value, a.value))
got_c.append(greedy(batch.value, c.value))
while len(got_a) < len(GOLDEN_TOKENS):
    feeds = [(a.value, [got_a[-1]])] + ([(c.value, [got_c[-1]])] if len(got_c) < 3 else [])
    step(batch.value, feeds, what="decode")
    got_a.append(greedy(batch.value, a.value))
    if len(feeds) > 1:
        got_c.append(greedy(batch.value, c.value))
if got_a != GOLDEN_TOKENS:
    failures.append(f"A (the golden prompt) generated {got_a} in the batch, golden {GOLDEN_TOKENS}")
for name, prompt, got in (("B", prompt_b, got_b), ("C", prompt_c, got_c)):
    if got != alone(prompt, len(got)):
        failures.append(f"{name} generated {got} in the batch, {alone(prompt, len(got))} alone")

# Misuse: each refused before anything runs.
step(batch.value, [(a.value, [1]), (a.value, [2])], INVALID_ARGUMENT, "appears twice", "a sequence twice")
step(batch.value, [(a.value, [vocab.value])], OUT_OF_RANGE, f"Token id {vocab.value}", "a token outside the vocabulary")
step(batch.value, [(c.value, [1] * 48)], INVALID_STATE, "exceed the 48", "past the sequence maximum")
expect(qn.qn_batch_step(batch.value, (i64 * 1)(a.value), (i32 * 1)(0), 1, (i32 * 1)(1)), OUT_OF_RANGE, "tokenCounts", "no tokens")
expect(qn.qn_batch_step(batch.value, (i64 * 1)(a.value), (i32 * 1)(1), 1, None), INVALID_ARGUMENT, "tokens is NULL", "NULL tokens")
expect(qn.qn_batch_step(batch.value, None, None, 0, None), OUT_OF_RANGE, "count", "no sequences")
expect(qn.qn_batch_free(batch.value), OK, "", "free the batch")
expect(qn.qn_batch_free(batch.value), INVALID_HANDLE, "not a live batch handle", "free twice")
expect(qn.qn_batch_add(model.value, ctypes.byref(c)), INVALID_HANDLE, "not a live batch handle", "a model handle as a batch")
expect(qn.qn_model_free(model.value), OK, "", "free model")

if failures:
    print("\n".join(failures))
    print(f"{checks - len(failures)} passed, {len(failures)} failed")
    sys.exit(1)
print(f"{checks} passed, 0 failed")
