/* indexcache import SRC --out DIR [--dtype bf16|f32] [--force] */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ic_commands.h"
#include "ic_log.h"
#include "launch/ic_args.h"
#include "model/ic_import.h"

static const char *out_dir;
static const char *dtype_name;
static int force;
static const ic_arg_spec k_args[] = {
    {"--out", IC_ARG_STRING, &out_dir, "DIR", "model dir to write (must not exist or be empty)", 1, 0, 0},
    {"--dtype", IC_ARG_STRING, &dtype_name, "bf16|f32", "dtype of model.safetensors (default bf16)", 0, 0, 0},
    {"--force", IC_ARG_FLAG, &force, NULL, "replace the model files of a non-empty DIR", 0, 0, 0},
};
static const ic_cmd_spec k_cmd = {
    "import", "SRC --out DIR [--dtype bf16|f32] [--force]",
    "Converts a dense Llama-family model into a model dir (docs/FORMATS.md). SRC is a GGUF\n"
    "file (llama architecture; F32/F16/BF16/Q8_0/Q4_0/Q4_1 tensors are dequantised and\n"
    "llama.cpp's q/k row permutation is undone) or a Hugging Face dir (config.json of\n"
    "Llama/Mistral/Qwen2 + model.safetensors or shards + tokenizer.json). DIR receives\n"
    "config.json, model.safetensors (HF Llama tensor names), tokenizer.json (Hugging\n"
    "Face format; built from the GGUF vocab, or copied from the HF dir) and\n"
    "tokenizer_config.json, special_tokens_map.json, generation_config.json (written\n"
    "from the GGUF's special tokens and chat template, or copied from the HF dir).",
    k_args, (int)(sizeof k_args / sizeof k_args[0]), "SRC", 1, 1,
};

int ic_cmd_import(int argc, char **argv) {
    const char *pos[1];
    int npos = 0, status = 0;
    out_dir = NULL;
    dtype_name = "bf16";
    force = 0;
    if (ic_args_run(&k_cmd, argc, argv, pos, &npos, &status)) return status;
    ic_import_opts opts = {IC_BF16, force};
    if (!strcmp(dtype_name, "f32")) opts.dtype = IC_F32;
    else if (strcmp(dtype_name, "bf16")) {
        fprintf(stderr, "indexcache import: --dtype must be bf16 or f32, not '%s'\n", dtype_name);
        return 2;
    }
    ic_error err;
    ic_error_clear(&err);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (ic_import(pos[0], out_dir, &opts, &err)) {
        fprintf(stderr, "indexcache import: %s\n", err.msg);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("import: wrote %s/{config.json,model.safetensors,tokenizer*.json,...} in %.1f s\n", out_dir,
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    return 0;
}
