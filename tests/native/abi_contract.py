#!/usr/bin/env python3
"""The C ABI's contract, through ctypes: step / logits / sample agree with qn_generate, and every misuse is a status
code with a message (never a crash or an exception across the boundary). Run by NativeAbiTests; exits 1 on failure.
    python3 tests/native/abi_contract.py LIB MODEL_DIR
"""
import ctypes
import sys

lib, model_dir = sys.argv[1], sys.argv[2]
qn = ctypes.CDLL(lib)
qn.qn_last_error.restype = ctypes.c_char_p
u64, i32, f32 = ctypes.c_uint64, ctypes.c_int32, ctypes.c_float
CALLBACK = ctypes.CFUNCTYPE(i32, i32, ctypes.c_void_p)
qn.qn_sampler_create.argtypes = [f32, f32, i32, i32, ctypes.POINTER(u64)]
qn.qn_generate.argtypes = [u64, ctypes.POINTER(i32), i32, i32, u64, CALLBACK, ctypes.c_void_p, ctypes.POINTER(i32), ctypes.POINTER(i32)]
failures = []
checks = 0


def expect(status, wanted, fragment, what):
    global checks
    checks += 1
    message = qn.qn_last_error().decode()
    if status != wanted or (fragment and fragment not in message):
        failures.append(f"{what}: status {status} (wanted {wanted}), message {message!r} (wanted {fragment!r})")


OK, INVALID_ARGUMENT, OUT_OF_RANGE, BAD_CHECKPOINT, INVALID_STATE, INVALID_HANDLE, BUFFER_TOO_SMALL, CANCELLED = 0, 1, 2, 3, 5, 6, 7, 8

model = u64()
expect(qn.qn_model_load(b"/nonexistent/model", b"reference", ctypes.byref(model)), BAD_CHECKPOINT, "/nonexistent/model", "missing folder")
expect(qn.qn_model_load(model_dir.encode(), b"no-such-backend", ctypes.byref(model)), INVALID_ARGUMENT, "no-such-backend", "unknown backend")
expect(qn.qn_model_load(None, None, ctypes.byref(model)), INVALID_ARGUMENT, "folder", "NULL folder")
expect(qn.qn_model_load(model_dir.encode(), None, ctypes.byref(model)), OK, "", "load (NULL backend = reference)")

vocab = i32()
expect(qn.qn_model_vocab_size(u64(model.value), ctypes.byref(vocab)), OK, "", "vocab size")
prompt = (i32 * 4)(1, 2, 3, 4)
session = u64()
expect(qn.qn_session_create(u64(model.value), i32(6), ctypes.byref(session)), OK, "", "session")
logits = (f32 * vocab.value)()
expect(qn.qn_session_logits(u64(session.value), logits, i32(vocab.value)), INVALID_STATE, "qn_session_step first", "logits before a step")
bad = (i32 * 1)(vocab.value)
expect(qn.qn_session_step(u64(session.value), bad, i32(1)), OUT_OF_RANGE, f"Token id {vocab.value}", "token outside the vocabulary")
expect(qn.qn_session_step(u64(session.value), prompt, i32(4)), OK, "", "prefill step")
expect(qn.qn_session_logits(u64(session.value), logits, i32(vocab.value - 1)), BUFFER_TOO_SMALL, f"need {vocab.value} floats", "small buffer")
expect(qn.qn_session_logits(u64(session.value), logits, i32(vocab.value)), OK, "", "logits")

# Step by step with greedy sampling gives what qn_generate gives.
stepped = []
token = i32()
for _ in range(2):
    expect(qn.qn_sample(u64(0), logits, i32(vocab.value), ctypes.byref(token)), OK, "", "greedy sample")
    stepped.append(token.value)
    one = (i32 * 1)(token.value)
    expect(qn.qn_session_step(u64(session.value), one, i32(1)), OK, "", "decode step")
    expect(qn.qn_session_logits(u64(session.value), logits, i32(vocab.value)), OK, "", "decode logits")
position = i32()
expect(qn.qn_session_position(u64(session.value), ctypes.byref(position)), OK, "", "position")
if position.value != 6:
    failures.append(f"position {position.value}, wanted 6")
expect(qn.qn_session_step(u64(session.value), prompt, i32(1)), INVALID_STATE, "holds 6 tokens", "a full session")
expect(qn.qn_session_free(u64(session.value)), OK, "", "free session")
expect(qn.qn_session_free(u64(session.value)), INVALID_HANDLE, "not a live session handle", "double free")
expect(qn.qn_session_free(u64(model.value)), INVALID_HANDLE, "not a live session handle", "a model handle as a session")

out, count = (i32 * 8)(), i32()
expect(qn.qn_generate(model.value, prompt, 4, 8, 0, CALLBACK(lambda t, u: 0), None, out, ctypes.byref(count)), OK, "", "generate")
if list(out[:2]) != stepped:
    failures.append(f"qn_generate {list(out[:2])} but stepping gave {stepped}")
seen = []
stop_after_three = CALLBACK(lambda t, u: (seen.append(t), len(seen) >= 3)[1])
expect(qn.qn_generate(model.value, prompt, 4, 8, 0, stop_after_three, None, out, ctypes.byref(count)), CANCELLED, "after 3 tokens", "callback stops")
if count.value != 3 or seen != list(out[:3]):
    failures.append(f"stopped generation wrote {count.value} tokens {list(out[:count.value])}, callback saw {seen}")

sampler = u64()
expect(qn.qn_sampler_create(0.7, 1.5, 0, 1, ctypes.byref(sampler)), INVALID_ARGUMENT, "top-p", "top-p outside (0, 1]")
expect(qn.qn_sampler_create(0.7, 0.9, 5, 1, ctypes.byref(sampler)), OK, "", "sampler")
expect(qn.qn_generate(model.value, prompt, 4, 3, sampler.value, CALLBACK(lambda t, u: 0), None, out, ctypes.byref(count)), OK, "", "sampled generate")
expect(qn.qn_sampler_free(u64(sampler.value)), OK, "", "free sampler")

expect(qn.qn_model_free(u64(model.value)), OK, "", "free model")
expect(qn.qn_model_vocab_size(u64(model.value), ctypes.byref(vocab)), INVALID_HANDLE, "not a live model handle", "freed model")

if failures:
    print("\n".join(failures))
    print(f"{checks - len(failures)} passed, {len(failures)} failed")
    sys.exit(1)
print(f"{checks} passed, 0 failed")
