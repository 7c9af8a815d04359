/* test_checkpoint_kill.c — kill -9 during checkpoint writes, for real.
 *
 * A child process saves checkpoints in a loop (the store's save: atomic write,
 * best.fwc link, pruning to the last 3) and is killed with SIGKILL after a
 * random delay, 30 times. After each kill the newest complete checkpoint must
 * load and hold exactly the content its step determines, and it must be no
 * older than the newest one seen loading before (nothing durable is lost).
 * The next child resumes from it (after cleaning temp files), as a trainer
 * would.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "ckpt_store.h"
#include "rng.h"
#include "tap.h"

#define N_KILLS 30
#define KEEP 3

static const char *const names[] = {"layer1.0.conv1.weight", "layer1.0.bn1.running_mean",
                                    "fc.weight"};
static const int64_t numels[] = {60000, 64, 40000};

typedef struct state {
    fw_param p[3], o[1];
    fw_param *pp[3], *op[1];
    fw_param_list model, optim;
    unsigned char rng[48];
    char config[64];
    fw_ckpt_content c;
} state;

static void state_init(state *s)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < 3; i++) {
        snprintf(s->p[i].name, sizeof s->p[i].name, "%s", names[i]);
        s->p[i].ndim = 1;
        s->p[i].shape[0] = s->p[i].numel = numels[i];
        s->p[i].data = malloc((size_t)numels[i] * 4);
        s->pp[i] = &s->p[i];
    }
    snprintf(s->o[0].name, sizeof s->o[0].name, "optim.fc.weight.momentum_buffer");
    s->o[0].ndim = 2;
    s->o[0].shape[0] = 200;
    s->o[0].shape[1] = 200;
    s->o[0].numel = 40000;
    s->o[0].data = malloc(40000 * 4);
    s->op[0] = &s->o[0];
    s->model = (fw_param_list){s->pp, 3, 3};
    s->optim = (fw_param_list){s->op, 1, 1};
    s->c.model = &s->model;
    s->c.optim = &s->optim;
    s->c.rng = s->rng;
    s->c.rng_len = sizeof s->rng;
    s->c.config = s->config;
}

static void state_free(state *s)
{
    for (int i = 0; i < 3; i++)
        free(s->p[i].data);
    free(s->o[0].data);
}

/* The content of step `step`: raw random bits (any float pattern). */
static void state_fill(state *s, uint64_t step)
{
    fw_rng r;
    fw_rng_init(&r, step, 77);
    for (int i = 0; i < 3; i++)
        for (int64_t k = 0; k < s->p[i].numel; k++) {
            uint32_t bits = fw_rng_u32(&r);
            memcpy(&s->p[i].data[k], &bits, 4);
        }
    for (int64_t k = 0; k < s->o[0].numel; k++) {
        uint32_t bits = fw_rng_u32(&r);
        memcpy(&s->o[0].data[k], &bits, 4);
    }
    for (size_t k = 0; k < sizeof s->rng; k++)
        s->rng[k] = (unsigned char)fw_rng_u32(&r);
    snprintf(s->config, sizeof s->config, "seed = %" PRIu64 "\n", step);
    s->c.meta = (fw_ckpt_meta){.step = step,
                               .epoch = (int64_t)(step / 10),
                               .sampler_epoch = (int64_t)(step / 10),
                               .sampler_batch = (int64_t)(step % 10),
                               .best_metric = (double)(step / 5 * 5) / 1000.0,
                               .best_step = (int64_t)(step / 5 * 5),
                               .has_best = 1};
}

/* Does `ck` hold exactly the content of its step? */
static int matches(const fw_ckpt *ck, state *want, state *got)
{
    fw_error err = {0};
    state_fill(want, ck->meta.step);
    if (fw_ckpt_read_params(ck, FW_CKPT_SECTION_MODEL, &got->model, 0, NULL, &err) != 0 ||
        fw_ckpt_read_params(ck, FW_CKPT_SECTION_OPTIM, &got->optim, 0, NULL, &err) != 0) {
        printf("# %s\n", err.msg);
        return 0;
    }
    for (int i = 0; i < 3; i++)
        if (memcmp(want->p[i].data, got->p[i].data, (size_t)numels[i] * 4) != 0)
            return 0;
    return memcmp(want->o[0].data, got->o[0].data, 40000 * 4) == 0 &&
           ck->rng_len == sizeof want->rng && memcmp(ck->rng, want->rng, sizeof want->rng) == 0 &&
           strcmp(ck->config, want->config) == 0 &&
           ck->meta.step == want->c.meta.step && ck->meta.epoch == want->c.meta.epoch &&
           ck->meta.sampler_epoch == want->c.meta.sampler_epoch &&
           ck->meta.sampler_batch == want->c.meta.sampler_batch &&
           memcmp(&ck->meta.best_metric, &want->c.meta.best_metric, 8) == 0 &&
           ck->meta.best_step == want->c.meta.best_step && ck->meta.has_best == 1;
}

/* The child: save steps start, start+1, ... until killed. */
static void writer(const char *dir, uint64_t start)
{
    state s;
    state_init(&s);
    fw_error err = {0};
    for (uint64_t step = start;; step++) {
        state_fill(&s, step);
        if (fw_ckpt_store_save(dir, &s.c, step % 5 == 0, KEEP, &err) != 0) {
            fprintf(stderr, "writer: %s\n", err.msg);
            _exit(3);
        }
    }
}

static long count_temps(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -c '\\.tmp-' ", dir);
    FILE *p = popen(cmd, "r");
    long n = 0;
    if (p) {
        if (fscanf(p, "%ld", &n) != 1)
            n = 0;
        pclose(p);
    }
    return n;
}

static void test_kill_during_writes(void)
{
    char root[256], dir[300];
    snprintf(root, sizeof root, "%s/fwkill.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(root))
        SKIP("cannot make a temp dir");
    snprintf(dir, sizeof dir, "%s/run", root);

    state want, got;
    state_init(&want);
    state_init(&got);
    fw_error err = {0};
    state_fill(&want, 1);
    CHECK_INT(fw_ckpt_store_save(dir, &want.c, 0, KEEP, &err), 0);

    fw_rng r;
    uint64_t seed = (uint64_t)time(NULL);
    fw_rng_init(&r, seed, 0);
    printf("# kill delays drawn with seed %llu\n", (unsigned long long)seed);
    uint64_t last_seen = 1;
    int loads = 0, exact = 0, monotonic = 0, best_ok = 0, within_keep = 0;
    long temps_seen = 0, writes = 0;
    for (int kill_i = 0; kill_i < N_KILLS; kill_i++) {
        fw_ckpt ck;
        long cleaned = 0;
        CHECK_INT(fw_ckpt_store_clean_temps(dir, &cleaned, &err), 0);
        if (fw_ckpt_store_open_newest(dir, &ck, NULL, NULL, &err) != 0) {
            printf("# before kill %d: %s\n", kill_i, err.msg);
            break;
        }
        uint64_t start = ck.meta.step + 1;
        fw_ckpt_close(&ck);
        /* Resuming also prunes: kills between a save and its pruning leave
         * more than KEEP files (the newest ones); one prune restores KEEP. */
        CHECK_INT(fw_ckpt_store_prune(dir, KEEP, NULL, &err), 0);
        uint64_t *steps;
        long n;
        if (fw_ckpt_store_list(dir, &steps, &n, &err) == 0) {
            within_keep += n >= 1 && n <= KEEP && steps[n - 1] == start - 1;
            free(steps);
        }

        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0)
            writer(dir, start);
        CHECK(pid > 0);
        if (pid < 0)
            break;
        /* 2..60 ms: long enough for some saves, landing anywhere in one. */
        struct timespec ts = {0, (long)(2 + fw_rng_below(&r, 58)) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "writer ended on its own (status %d)", status);

        temps_seen += count_temps(dir);
        if (fw_ckpt_store_open_newest(dir, &ck, NULL, NULL, &err) != 0) {
            printf("# after kill %d: %s\n", kill_i, err.msg);
            continue;
        }
        loads++;
        exact += matches(&ck, &want, &got);
        monotonic += ck.meta.step >= last_seen;
        writes += (long)(ck.meta.step - last_seen);
        last_seen = ck.meta.step;
        fw_ckpt_close(&ck);
        if (fw_ckpt_store_open_best(dir, &ck, &err) == 0) {
            best_ok += ck.meta.step % 5 == 0 && matches(&ck, &want, &got);
            fw_ckpt_close(&ck);
        } else {
            best_ok += err.code == FW_ENOTFOUND && last_seen < 10; /* none written yet */
        }
    }
    printf("# %d kills, %ld checkpoints completed in all, temp files left by %ld kills "
           "(killed mid-write)\n",
           N_KILLS, writes, temps_seen);
    CHECK_INT(loads, N_KILLS);
    CHECK_INT(exact, N_KILLS);
    CHECK_INT(monotonic, N_KILLS);
    CHECK_INT(best_ok, N_KILLS);
    CHECK_INT(within_keep, N_KILLS);
    CHECK(writes > 0);
    state_free(&want);
    state_free(&got);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", root);
}

int main(void)
{
    RUN(test_kill_during_writes);
    return tap_done();
}
