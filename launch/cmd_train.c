/* indexcache train: distil the lightning indexers of a pattern's F layers
 * with IndexCache's multi-layer KL loss (train/ic_trainer.h). */
#include <stdio.h>
#include <string.h>

#include "ic_commands.h"
#include "kernels/ic_ctx.h"
#include "ic_log.h"
#include "launch/ic_args.h"
#include "launch/ic_dist.h"
#include "train/ic_trainer.h"

int ic_cmd_train(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *pattern = NULL, *out = NULL;
    const char *stage = "dense", *loss = "multi";
    long long steps = 0, seq_len = 512, batch = 1, warmup = 0, topk = 0, eval_every = 0;
    long long eval_batches = 8, seed = 0, stop_after = 0, keep = 2;
    double lr = 1e-3, min_lr = -1, wd = 0.1, clip = 1.0;
    int resume = 0, eval_only = 0;
    const ic_arg_spec args[] = {
        {"--model", IC_ARG_STRING, &model, "DIR", "model dir (teacher; indexers of F layers used when present)", 1, 0, 0},
        {"--data", IC_ARG_STRING, &data, "FILE.h5", "token dataset from `indexcache prep` (train + val splits)", 1, 0, 0},
        {"--pattern", IC_ARG_STRING, &pattern, "P", "F/S string (one char per layer), uniform:R or freq:F[,offset:O]", 1, 0, 0},
        {"--stage", IC_ARG_STRING, &stage, "S", "dense (all causal keys) or sparse (the F layer's top-k, DSA forward) (default dense)", 0, 0, 0},
        {"--loss", IC_ARG_STRING, &loss, "M", "multi (IndexCache: every layer an F layer serves) or single (its own layer) (default multi)", 0, 0, 0},
        {"--steps", IC_ARG_INT, &steps, "N", "optimizer steps (required unless --eval-only)", 0, 1, 1e12},
        {"--seq-len", IC_ARG_INT, &seq_len, "L", "tokens per window (default 512)", 0, 2, 1 << 24},
        {"--batch", IC_ARG_INT, &batch, "B", "windows per rank per step (default 1)", 0, 1, 1 << 20},
        {"--lr", IC_ARG_DOUBLE, &lr, "LR", "peak learning rate (default 1e-3)", 0, 0, 10},
        {"--min-lr", IC_ARG_DOUBLE, &min_lr, "LR", "floor of the cosine decay (default lr/10)", 0, 0, 10},
        {"--warmup", IC_ARG_INT, &warmup, "W", "linear warm-up steps (default 0)", 0, 0, 1e12},
        {"--weight-decay", IC_ARG_DOUBLE, &wd, "WD", "AdamW decoupled weight decay, not on k_norm (default 0.1)", 0, 0, 10},
        {"--clip", IC_ARG_DOUBLE, &clip, "C", "global gradient-norm clip, 0 = off (default 1.0)", 0, 0, 1e9},
        {"--topk", IC_ARG_INT, &topk, "K", "keys per query of the sparse stage and the output config (default: config index_topk)", 0, 1, 1 << 30},
        {"--eval-every", IC_ARG_INT, &eval_every, "E", "validate + checkpoint every E steps (default: at the end only)", 0, 0, 1e12},
        {"--eval-batches", IC_ARG_INT, &eval_batches, "N", "val windows per validation (default 8)", 0, 0, 1e9},
        {"--seed", IC_ARG_INT, &seed, "S", "data order and indexer init seed (default 0)", 0, 0, 9.2e18},
        {"--out", IC_ARG_STRING, &out, "DIR", "output model dir (checkpoints in DIR/checkpoints; required unless --eval-only)", 0, 0, 0},
        {"--eval-only", IC_ARG_FLAG, &eval_only, NULL, "print the val KL (JSON; + LM loss for --stage sparse) of DIR's indexers and exit", 0, 0, 0},
        {"--resume", IC_ARG_FLAG, &resume, NULL, "continue from the newest complete checkpoint in DIR", 0, 0, 0},
        {"--stop-after", IC_ARG_INT, &stop_after, "N", "stop after step N with a checkpoint, as if interrupted (tests)", 0, 0, 1e12},
        {"--keep-checkpoints", IC_ARG_INT, &keep, "N", "complete checkpoints kept (default 2)", 0, 1, 1e6},
    };
    const ic_cmd_spec spec = {
        "train",
        "--model DIR --data FILE.h5 --pattern P --steps N --out DIR [--stage dense|sparse] "
        "[--loss multi|single] [--seq-len L] [--batch B] [--lr LR] [...] [--resume]",
        "Trains the lightning indexers of the pattern's F layers against the frozen teacher's "
        "attention with the IndexCache multi-layer KL loss (docs/DESIGN.md s3). Each step takes B "
        "windows of L tokens per rank from the train split (seeded, rank-disjoint), averages the "
        "gradients over ranks (mpirun -np N), clips them and takes an AdamW step with linear "
        "warm-up and cosine decay. Logs step | loss | norm | lr | ms | tok/s | eta; validates "
        "(val KL; LM loss with the pattern for the sparse stage) and checkpoints every E steps "
        "and at the end. The output dir is a model dir with the trained F-layer indexers and "
        "the literal index_topk_pattern in config.json. Set OMP_NUM_THREADS per rank. "
        "Several GPUs or hosts: launch/scripts/mpirun.sh or launch/scripts/indexcache.sbatch "
        "(Slurm), one rank per GPU.",
        args, (int)(sizeof args / sizeof args[0]), NULL, 0, 0,
    };
    const char *pos[1];
    int npos = 0, status = 0;
    if (ic_args_run(&spec, argc, argv, pos, &npos, &status)) return status;
    ic_error err;
    ic_error_clear(&err);
    /* the context first: the comm averages gradients where they live. The GPU
     * when one answers and every op the stage runs has a CUDA kernel (the
     * dense stage runs no sparse attention); --cpu forces the CPU. */
    ic_ctx *ctx = ic_cmd_ctx_for(IC_NEED_TEACHER | IC_NEED_TRAIN |
                                 (strcmp(stage, "sparse") == 0
                                      ? IC_NEED_DSA | IC_NEED_TRAIN_SPARSE : 0u));
    ic_train_opts o = {
        .model_dir = model, .data_path = data, .pattern = pattern, .out_dir = out,
        .steps = (long)steps, .seq_len = (int)seq_len, .batch = (int)batch, .lr = lr,
        .min_lr = min_lr < 0 ? lr / 10 : min_lr, .weight_decay = wd, .clip = clip,
        .warmup = (long)warmup, .topk = (int)topk, .eval_every = (long)eval_every,
        .eval_batches = (long)eval_batches, .seed = (uint64_t)seed, .resume = resume,
        .stop_after = (long)stop_after, .keep_ckpts = (int)keep, .eval_only = eval_only,
        .comm = ic_dist_comm_for(ctx),
        .ctx = ctx,
    };
    /* flag values that are wrong on their own: a bad command line, exit 2 */
    if (!eval_only && (!out || steps <= 0)) ic_error_set(&err, "--steps and --out are required (unless --eval-only)");
    if (eval_only && !steps) o.steps = 1;   /* the schedule check wants T >= 1 */
    if (strcmp(stage, "dense") == 0) o.stage = IC_DISTILL_DENSE;
    else if (strcmp(stage, "sparse") == 0) o.stage = IC_DISTILL_SPARSE;
    else ic_error_set(&err, "--stage %s: expected dense or sparse", stage);
    if (strcmp(loss, "multi") == 0) o.single = 0;
    else if (strcmp(loss, "single") == 0) o.single = 1;
    else ic_error_set(&err, "--loss %s: expected multi or single", loss);
    if (o.min_lr > o.lr) ic_error_set(&err, "--min-lr %g exceeds --lr %g", o.min_lr, o.lr);
    if (err.code) {
        fprintf(stderr, "indexcache train: %s (see 'indexcache train --help')\n", err.msg);
        return 2;
    }
    /* SIGTERM / SIGUSR1: checkpoint at the next step boundary, exit 0
     * (--eval-only has no steps: the signals keep their default action) */
    if (!eval_only) ic_cmd_preempt_install();
    if (ic_train_run(&o, &err) == 0) return 0;
    if (ic_dist_get()->world > 1) ic_dist_fail("train: %s", err.msg);
    fprintf(stderr, "indexcache train: %s\n", err.msg);
    return 1;
}
