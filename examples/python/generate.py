#!/usr/bin/env python3
"""Greedy generation through the C ABI (native/qwen3next.h) with ctypes and nothing else.

    python3 examples/python/generate.py [MODEL_DIR] [--backend NAME] [--lib PATH]

With no MODEL_DIR: the tiny Qwen3-Next checkpoint kept with the golden data and its golden prompt, so the output is
the golden greedy tokens [301, 471, 365, 298, 382, 76, 304, 434]. Tokens are printed as they are generated (the
callback), then the whole list.
"""
import argparse
import ctypes
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_LIB = os.path.join(ROOT, "src", "Qwen3Next.Native", "bin", "Release", "net10.0", "libqwen3next.so")
TINY_MODEL = os.path.join(ROOT, "tests", "data", "golden", "models", "tiny-qwen3-next")
# The golden prompt of the tiny model (input_ids in its golden.safetensors).
GOLDEN_PROMPT = [280, 105, 145, 195, 83, 276, 128, 440, 506, 103, 168, 452, 37, 458, 424, 305, 190, 324, 389, 393,
                 248, 5, 86, 189, 146, 427, 258, 267, 493, 131, 246, 391, 83, 293, 492, 401, 258, 303, 432, 403]

TOKEN_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_int32, ctypes.c_void_p)


def load(path):
    qn = ctypes.CDLL(path)
    u64p, i32p = ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_int32)
    qn.qn_last_error.restype = ctypes.c_char_p
    qn.qn_model_load.argtypes = [ctypes.c_char_p, ctypes.c_char_p, u64p]
    qn.qn_model_vocab_size.argtypes = [ctypes.c_uint64, i32p]
    qn.qn_model_free.argtypes = [ctypes.c_uint64]
    qn.qn_generate.argtypes = [ctypes.c_uint64, i32p, ctypes.c_int32, ctypes.c_int32, ctypes.c_uint64, TOKEN_CALLBACK,
                               ctypes.c_void_p, i32p, i32p]
    return qn


def check(qn, status, what):
    if status != 0:
        sys.exit(f"error: {what}: status {status}: {qn.qn_last_error().decode()}")


def main():
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("model", nargs="?", default=TINY_MODEL)
    args.add_argument("--backend", default="reference")
    args.add_argument("--lib", default=os.environ.get("QWEN3NEXT_LIB", DEFAULT_LIB))
    args.add_argument("--prompt-ids", default=None, help="comma-separated ids (default: the tiny model's golden prompt)")
    args.add_argument("-n", "--max-new-tokens", type=int, default=8)
    a = args.parse_args()

    qn = load(a.lib)
    model = ctypes.c_uint64()
    check(qn, qn.qn_model_load(a.model.encode(), a.backend.encode(), ctypes.byref(model)), f"loading {a.model}")
    prompt = [int(t) for t in a.prompt_ids.split(",")] if a.prompt_ids else GOLDEN_PROMPT
    ids = (ctypes.c_int32 * len(prompt))(*prompt)
    out, count = (ctypes.c_int32 * a.max_new_tokens)(), ctypes.c_int32()

    def on_token(token, _user):
        print(token, end=" ", flush=True)
        return 0  # non-zero would stop generation

    callback = TOKEN_CALLBACK(on_token)
    check(qn, qn.qn_generate(model, ids, len(prompt), a.max_new_tokens, 0, callback, None, out, ctypes.byref(count)), "generating")
    print()
    print(list(out[:count.value]))
    check(qn, qn.qn_model_free(model), "freeing the model")


if __name__ == "__main__":
    main()
