/* qwen3next.h — the C ABI of the Qwen3-Next runtime (libqwen3next.so).
 *
 * The library starts the .NET runtime in the calling process on first use (the SDK's hosting layer: nethost finds
 * hostfxr, which loads Qwen3Next.Native.dll from the folder holding libqwen3next.so) and forwards each call to the C#
 * runtime. Plain C types only; every function returns a qn_status, and a failure leaves a message for
 * qn_last_error(). No exception or signal crosses the boundary; a bad handle is QN_INVALID_HANDLE, never a crash.
 *
 * Handles are 64-bit ids, 0 meaning none; each is freed once with its *_free function. Calls may come from any
 * thread; forward passes of one model take turns. The .NET 10 runtime must be installed (DOTNET_ROOT, or the
 * default locations nethost searches).
 *
 * Batched decoding (several sessions in one forward pass) has no call yet: step each session on its own. It will
 * be qn_batch_step(const qn_session* sessions, ...) once the runtime batches.
 */
#ifndef QWEN3NEXT_H
#define QWEN3NEXT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t qn_model;   /* a loaded checkpoint on one backend */
typedef uint64_t qn_session; /* one sequence: its recurrent states and KV cache */
typedef uint64_t qn_sampler; /* temperature / top-p / top-k sampling with its own random state */

typedef enum qn_status {
    QN_OK = 0,
    QN_INVALID_ARGUMENT = 1, /* a NULL pointer, an unknown backend name, a bad sampling option */
    QN_OUT_OF_RANGE = 2,     /* a count or token id outside its range */
    QN_BAD_CHECKPOINT = 3,   /* the model folder is missing, unreadable or inconsistent (the message names the file) */
    QN_NON_FINITE = 4,       /* a forward pass produced NaN or Inf; the session is unusable */
    QN_INVALID_STATE = 5,    /* e.g. logits before any step, a full session, a freed model's session */
    QN_INVALID_HANDLE = 6,   /* a handle never issued, already freed, or of another kind */
    QN_BUFFER_TOO_SMALL = 7, /* the caller's buffer cannot hold the result (the message gives the size) */
    QN_CANCELLED = 8,        /* the token callback asked to stop */
    QN_UNSUPPORTED = 9,      /* e.g. the ptx backend with no GPU */
    QN_IO = 10,              /* a file could not be read */
    QN_INTERNAL = 11,        /* a bug in the runtime; the message says what */
    QN_HOST = 12             /* the .NET runtime or Qwen3Next.Native.dll could not be loaded */
} qn_status;

/* The last failure's message on this thread (UTF-8, owned by the library, valid until the next failing call on
 * this thread). */
const char* qn_last_error(void);

/* Loads the checkpoint folder (config.json + safetensors) onto a backend: "reference", "ilgpu", "ilgpu-cpu", "ptx",
 * "ptx-emu", "ilgpu-emu"; NULL is "reference". */
qn_status qn_model_load(const char* folder, const char* backend, qn_model* model);
qn_status qn_model_vocab_size(qn_model model, int32_t* size);
/* Frees the model and its backend; its sessions then answer QN_INVALID_STATE (free them too). */
qn_status qn_model_free(qn_model model);

/* A session holding up to max_tokens positions. */
qn_status qn_session_create(qn_model model, int32_t max_tokens, qn_session* session);
qn_status qn_session_free(qn_session session);
/* Feeds count tokens (a prompt, or one generated token) at the session's next positions. */
qn_status qn_session_step(qn_session session, const int32_t* tokens, int32_t count);
/* Copies the last step's logits for its last token (vocab_size floats) into logits[capacity]. */
qn_status qn_session_logits(qn_session session, float* logits, int32_t capacity);
/* Tokens consumed so far. */
qn_status qn_session_position(qn_session session, int32_t* position);

/* temperature 0 is greedy (argmax, lowest id on ties); top_p in (0, 1]; top_k 0 keeps all. */
qn_status qn_sampler_create(float temperature, float top_p, int32_t top_k, int32_t seed, qn_sampler* sampler);
qn_status qn_sampler_free(qn_sampler sampler);
/* Chooses a token from logits[count]; sampler 0 is greedy. */
qn_status qn_sample(qn_sampler sampler, const float* logits, int32_t count, int32_t* token);

/* Called with each token as soon as it is chosen; return non-zero to stop (qn_generate then returns QN_CANCELLED). */
typedef int32_t (*qn_token_callback)(int32_t token, void* user);

/* Prefill prompt[prompt_count], then generate up to max_new_tokens into tokens[max_new_tokens] (*count says how
 * many), in a session of its own that is freed however the call ends. sampler 0 is greedy; on_token may be NULL. */
qn_status qn_generate(qn_model model, const int32_t* prompt, int32_t prompt_count, int32_t max_new_tokens, qn_sampler sampler,
                      qn_token_callback on_token, void* user, int32_t* tokens, int32_t* count);

#ifdef __cplusplus
}
#endif

#endif
