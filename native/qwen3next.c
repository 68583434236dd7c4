/* libqwen3next.so: starts the .NET runtime with the SDK's hosting layer and forwards each C call of qwen3next.h to
 * its [UnmanagedCallersOnly] method in Qwen3Next.Native.dll (src/Qwen3Next.Native/NativeExports.cs). NativeAOT is
 * not an option: ILGPU compiles kernels from IL at run time, which AOT does not keep. */
#define _GNU_SOURCE
#include "qwen3next.h"

#include <coreclr_delegates.h>
#include <dlfcn.h>
#include <hostfxr.h>
#include <limits.h>
#include <nethost.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORTS_TYPE "Qwen3Next.Native.NativeExports, Qwen3Next.Native"

static pthread_once_t started = PTHREAD_ONCE_INIT;
static char host_error[PATH_MAX + 256]; /* set once if the runtime cannot start; every call then fails with QN_HOST */

static struct {
    const char* (*last_error)(void);
    int32_t (*model_load)(const char*, const char*, qn_model*);
    int32_t (*model_vocab_size)(qn_model, int32_t*);
    int32_t (*model_free)(qn_model);
    int32_t (*session_create)(qn_model, int32_t, qn_session*);
    int32_t (*session_free)(qn_session);
    int32_t (*session_step)(qn_session, const int32_t*, int32_t);
    int32_t (*session_logits)(qn_session, float*, int32_t);
    int32_t (*session_position)(qn_session, int32_t*);
    int32_t (*sampler_create)(float, float, int32_t, int32_t, qn_sampler*);
    int32_t (*sampler_free)(qn_sampler);
    int32_t (*sample)(qn_sampler, const float*, int32_t, int32_t*);
    int32_t (*generate)(qn_model, const int32_t*, int32_t, int32_t, qn_sampler, qn_token_callback, void*, int32_t*, int32_t*);
} fn;

/* The folder of this library: Qwen3Next.Native.dll and its runtimeconfig.json sit beside it. */
static int own_folder(char* folder, size_t size) {
    Dl_info info;
    if (!dladdr((void*)&own_folder, &info) || !info.dli_fname || !realpath(info.dli_fname, folder)) return 0;
    char* slash = strrchr(folder, '/');
    if (!slash) return 0;
    *slash = '\0';
    (void)size;
    return 1;
}

static void start_runtime(void) {
    char folder[PATH_MAX], assembly[PATH_MAX + 64], config[PATH_MAX + 64], hostfxr_path[PATH_MAX];
    if (!own_folder(folder, sizeof folder)) {
        snprintf(host_error, sizeof host_error, "libqwen3next: cannot find the folder this library was loaded from");
        return;
    }
    snprintf(assembly, sizeof assembly, "%s/Qwen3Next.Native.dll", folder);
    snprintf(config, sizeof config, "%s/Qwen3Next.Native.runtimeconfig.json", folder);

    size_t size = sizeof hostfxr_path;
    struct get_hostfxr_parameters params = {sizeof params, assembly, NULL};
    int rc = get_hostfxr_path(hostfxr_path, &size, &params);
    if (rc != 0) {
        snprintf(host_error, sizeof host_error, "libqwen3next: the .NET runtime was not found (get_hostfxr_path 0x%x); install .NET 10 or set DOTNET_ROOT", (unsigned)rc);
        return;
    }
    void* hostfxr = dlopen(hostfxr_path, RTLD_NOW | RTLD_LOCAL);
    hostfxr_initialize_for_runtime_config_fn init = hostfxr ? (hostfxr_initialize_for_runtime_config_fn)dlsym(hostfxr, "hostfxr_initialize_for_runtime_config") : NULL;
    hostfxr_get_runtime_delegate_fn get_delegate = hostfxr ? (hostfxr_get_runtime_delegate_fn)dlsym(hostfxr, "hostfxr_get_runtime_delegate") : NULL;
    hostfxr_close_fn close_host = hostfxr ? (hostfxr_close_fn)dlsym(hostfxr, "hostfxr_close") : NULL;
    if (!init || !get_delegate || !close_host) {
        snprintf(host_error, sizeof host_error, "libqwen3next: %s is not a usable hostfxr (%s)", hostfxr_path, dlerror());
        return;
    }

    hostfxr_handle context = NULL;
    rc = init(config, NULL, &context);
    if (rc < 0 || !context) { /* 1 and 2 mean a runtime was already running: still usable */
        snprintf(host_error, sizeof host_error, "libqwen3next: cannot start the .NET runtime for %s (hostfxr 0x%x)", config, (unsigned)rc);
        if (context) close_host(context);
        return;
    }
    load_assembly_and_get_function_pointer_fn load = NULL;
    rc = get_delegate(context, hdt_load_assembly_and_get_function_pointer, (void**)&load);
    close_host(context);
    if (rc != 0 || !load) {
        snprintf(host_error, sizeof host_error, "libqwen3next: the .NET runtime gave no assembly loader (hostfxr 0x%x)", (unsigned)rc);
        return;
    }

    struct { const char* method; void** slot; } entries[] = {
        {"LastErrorMessage", (void**)&fn.last_error}, {"ModelLoad", (void**)&fn.model_load},
        {"ModelVocabularySize", (void**)&fn.model_vocab_size}, {"ModelFree", (void**)&fn.model_free},
        {"SessionCreate", (void**)&fn.session_create}, {"SessionFree", (void**)&fn.session_free},
        {"SessionStep", (void**)&fn.session_step}, {"SessionLogits", (void**)&fn.session_logits},
        {"SessionPosition", (void**)&fn.session_position}, {"SamplerCreate", (void**)&fn.sampler_create},
        {"SamplerFree", (void**)&fn.sampler_free}, {"Sample", (void**)&fn.sample}, {"Generate", (void**)&fn.generate},
    };
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
        rc = load(assembly, EXPORTS_TYPE, entries[i].method, UNMANAGEDCALLERSONLY_METHOD, NULL, entries[i].slot);
        if (rc != 0 || !*entries[i].slot) {
            snprintf(host_error, sizeof host_error, "libqwen3next: %s has no entry point %s (0x%x)", assembly, entries[i].method, (unsigned)rc);
            memset(&fn, 0, sizeof fn);
            return;
        }
    }
}

static int ready(void) {
    pthread_once(&started, start_runtime);
    return fn.last_error != NULL;
}

const char* qn_last_error(void) { return ready() ? fn.last_error() : host_error; }

#define FORWARD(call) return ready() ? (qn_status)fn.call : QN_HOST

qn_status qn_model_load(const char* folder, const char* backend, qn_model* model) { FORWARD(model_load(folder, backend, model)); }
qn_status qn_model_vocab_size(qn_model model, int32_t* size) { FORWARD(model_vocab_size(model, size)); }
qn_status qn_model_free(qn_model model) { FORWARD(model_free(model)); }
qn_status qn_session_create(qn_model model, int32_t max_tokens, qn_session* session) { FORWARD(session_create(model, max_tokens, session)); }
qn_status qn_session_free(qn_session session) { FORWARD(session_free(session)); }
qn_status qn_session_step(qn_session session, const int32_t* tokens, int32_t count) { FORWARD(session_step(session, tokens, count)); }
qn_status qn_session_logits(qn_session session, float* logits, int32_t capacity) { FORWARD(session_logits(session, logits, capacity)); }
qn_status qn_session_position(qn_session session, int32_t* position) { FORWARD(session_position(session, position)); }
qn_status qn_sampler_create(float temperature, float top_p, int32_t top_k, int32_t seed, qn_sampler* sampler) { FORWARD(sampler_create(temperature, top_p, top_k, seed, sampler)); }
qn_status qn_sampler_free(qn_sampler sampler) { FORWARD(sampler_free(sampler)); }
qn_status qn_sample(qn_sampler sampler, const float* logits, int32_t count, int32_t* token) { FORWARD(sample(sampler, logits, count, token)); }
qn_status qn_generate(qn_model model, const int32_t* prompt, int32_t prompt_count, int32_t max_new_tokens, qn_sampler sampler,
                      qn_token_callback on_token, void* user, int32_t* tokens, int32_t* count) {
    FORWARD(generate(model, prompt, prompt_count, max_new_tokens, sampler, on_token, user, tokens, count));
}
