/* test_run_config.c — the run config: defaults, the exact text round trip on
 * random configs, refusals whose messages name the key and the origin,
 * comments/CRLF/duplicates, files with FILE:LINE, cross-key checks, the
 * translation into the learner's and the augmentation's configs (the learner
 * must accept it), and the man page documenting every key with its default. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "learner.h"
#include "rng.h"
#include "run_config.h"
#include "tap.h"

static const fw_config_key *keys(int *n)
{
    return fw_run_config_keys(n);
}

static int contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

/* ---- defaults -------------------------------------------------------------------- */

static void test_defaults_validate(void)
{
    fw_run_config c;
    fw_run_config_default(&c);
    fw_error err = {0};
    CHECK_MSG(fw_run_config_validate(&c, &err) == 0, "%s", err.msg);
    /* the recipe the brief and the man page state */
    CHECK_INT(c.input_w, 192);
    CHECK_INT(c.input_h, 96);
    CHECK_INT(c.channels, 1);
    CHECK_INT(c.arch, 18);
    CHECK_INT(c.embedding_dim, 256);
    CHECK_INT(c.losses, FW_RUN_LOSS_ARCFACE);
    CHECK_INT(c.optimizer, FW_OPTIM_ADAMW);
    CHECK_INT(c.schedule, FW_SCHED_ONE_CYCLE);
    CHECK(c.lr == 5e-4);
    CHECK_INT(c.epochs, 40);
    CHECK_STR(c.device, "cpu");
    CHECK(c.seed == 42);
    /* the augmentation defaults are the library's */
    fw_augment_opts d;
    fw_augment_opts_default(&d);
    CHECK(memcmp(&c.aug, &d, sizeof d) == 0);
}

static void test_key_table(void)
{
    int n = 0;
    const fw_config_key *k = keys(&n);
    CHECK(n >= 80);
    fw_run_config c;
    fw_run_config_default(&c);
    fw_error err = {0};
    for (int i = 0; i < n; i++) {
        CHECK_MSG(k[i].name && k[i].doc && k[i].doc[0], "key %d", i);
        for (int j = 0; j < i; j++)
            CHECK_MSG(strcmp(k[i].name, k[j].name) != 0, "%s twice", k[i].name);
        CHECK_MSG((k[i].type == FW_CFG_ENUM || k[i].type == FW_CFG_FLAGS) == (k[i].choices != NULL),
                  "%s choices", k[i].name);
        if (k[i].type == FW_CFG_INT || k[i].type == FW_CFG_REAL || k[i].type == FW_CFG_SIZE)
            CHECK_MSG(k[i].lo < k[i].hi, "%s range", k[i].name);
        /* every default lies in its own range: setting it back changes nothing */
        char value[2048];
        CHECK(fw_run_config_get(&c, k[i].name, value, sizeof value, &err) == 0);
        fw_run_config again = c;
        CHECK_MSG(fw_run_config_set(&again, k[i].name, value, "test", &err) == 0 ||
                      (strcmp(k[i].name, "dataset") == 0),
                  "%s: %s", k[i].name, err.msg);
        CHECK_MSG(memcmp(&again, &c, sizeof c) == 0, "%s", k[i].name);
    }
    /* the brief's names are all there */
    static const char *const required[] = {
        "dataset", "input", "channels", "val.query_share", "val.new_whale_share", "backbone",
        "width", "embedding", "pool", "gem_p", "dropout", "head", "arcface.scale",
        "arcface.margin", "arcface.subcenters", "arcface.weight", "softmax.weight",
        "label_smoothing", "triplet.margin", "triplet.weight", "triplet.soft",
        "contrastive.margin", "contrastive.weight", "sampler.p", "sampler.k",
        "sampler.new_whale", "optimizer", "lr", "head_lr_mult", "weight_decay", "momentum",
        "clip_norm", "schedule", "schedule.pct_start", "schedule.div", "schedule.div_final",
        "schedule.eta_min", "schedule.warmup_epochs", "epochs", "lr_find", "aug.p_affine",
        "aug.rotate_deg", "aug.scale_min", "aug.scale_max", "aug.aspect", "aug.shear_deg",
        "aug.translate", "aug.p_flip", "aug.flip_identity", "aug.border", "aug.fill",
        "aug.p_color", "aug.brightness", "aug.contrast", "aug.saturation", "aug.p_gamma",
        "aug.gamma", "aug.p_gray", "aug.p_blur", "aug.blur_sigma_min", "aug.blur_sigma_max",
        "aug.p_erase", "aug.erase_area_min", "aug.erase_area_max", "aug.erase_ratio_min",
        "aug.erase_ratio_max", "precision", "device", "threads", "loader_threads", "seed",
        "eval_every", "checkpoint_every", "keep_last", "tta_flip", "nan_limit"};
    for (size_t r = 0; r < sizeof required / sizeof required[0]; r++) {
        int found = 0;
        for (int i = 0; i < n; i++)
            found |= strcmp(k[i].name, required[r]) == 0;
        CHECK_MSG(found, "%s missing", required[r]);
    }
}

/* ---- random configs and the round trip --------------------------------------------- */

static double uniform01(fw_rng *r)
{
    uint64_t x = ((uint64_t)fw_rng_u32(r) << 32) | fw_rng_u32(r);
    return (double)(x >> 11) * (1.0 / 9007199254740992.0);
}

/* The i-th '|' choice of a key. */
static void choice(const char *choices, int i, char *out, size_t cap)
{
    const char *p = choices;
    while (i-- > 0)
        p = strchr(p, '|') + 1;
    size_t len = strcspn(p, "|");
    snprintf(out, cap, "%.*s", (int)len, p);
}

static int count_choices(const char *choices)
{
    int n = 1;
    for (; *choices; choices++)
        n += *choices == '|';
    return n;
}

/* A random in-range value of key k as text. */
static void random_value(fw_rng *r, const fw_config_key *k, char *out, size_t cap)
{
    switch (k->type) {
    case FW_CFG_INT:
        snprintf(out, cap, "%lld",
                 (long long)k->lo + (long long)fw_rng_below(r, (uint32_t)(k->hi - k->lo + 1)));
        break;
    case FW_CFG_U64: {
        uint64_t x = ((uint64_t)fw_rng_u32(r) << 32) | fw_rng_u32(r);
        snprintf(out, cap, "%llu", (unsigned long long)x);
        break;
    }
    case FW_CFG_REAL: {
        double u = uniform01(r), x;
        int pick = (int)fw_rng_below(r, 8);
        if (pick == 0)
            x = k->lo;
        else if (pick == 1)
            x = k->hi;
        else if (pick == 2 && k->lo > 0)
            x = k->lo * pow(k->hi / k->lo, u); /* log-uniform for wide ranges */
        else
            x = k->lo + (k->hi - k->lo) * u;
        if (x > k->hi)
            x = k->hi;
        if (x < k->lo)
            x = k->lo;
        snprintf(out, cap, "%.17g", x);
        break;
    }
    case FW_CFG_BOOL: {
        static const char *const spell[] = {"0", "1", "true", "false", "yes", "no", "on", "off",
                                            "TRUE", "Off"};
        snprintf(out, cap, "%s", spell[fw_rng_below(r, 10)]);
        break;
    }
    case FW_CFG_SIZE:
        snprintf(out, cap, "%dx%d", (int)k->lo + (int)fw_rng_below(r, (uint32_t)(k->hi - k->lo + 1)),
                 (int)k->lo + (int)fw_rng_below(r, (uint32_t)(k->hi - k->lo + 1)));
        break;
    case FW_CFG_ENUM:
        choice(k->choices, (int)fw_rng_below(r, (uint32_t)count_choices(k->choices)), out, cap);
        break;
    case FW_CFG_FLAGS: {
        int n = count_choices(k->choices);
        unsigned bits = 1 + fw_rng_below(r, (1u << n) - 1);
        out[0] = '\0';
        for (int i = n - 1; i >= 0; i--) /* reverse order: the format sorts them */
            if (bits & (1u << i)) {
                char name[64];
                choice(k->choices, i, name, sizeof name);
                if (out[0])
                    strncat(out, fw_rng_below(r, 2) ? " + " : "+", cap - strlen(out) - 1);
                strncat(out, name, cap - strlen(out) - 1);
            }
        break;
    }
    case FW_CFG_STRING:
        if (strcmp(k->name, "device") == 0) {
            static const char *const devices[] = {"cpu", "cuda", "cuda:0", "cuda:1,0",
                                                  "cuda:3,1,2"};
            snprintf(out, cap, "%s", devices[fw_rng_below(r, 5)]);
        } else {
            static const char alphabet[] = "abcXYZ019/._-=#é ";
            int len = (int)fw_rng_below(r, 40);
            size_t o = 0;
            for (int i = 0; i < len && o + 3 < cap; i++) {
                char c = alphabet[fw_rng_below(r, sizeof alphabet - 1)];
                /* no ' #' (it would start a comment), no leading/trailing space */
                if (c == '#' && o > 0 && out[o - 1] == ' ')
                    c = 'q';
                out[o++] = c;
            }
            while (o > 0 && out[o - 1] == ' ')
                o--;
            out[o] = '\0';
            if (out[0] == '#' || out[0] == ' ')
                out[0] = 'd';
        }
        break;
    }
}

static void set_ok(fw_run_config *c, const char *key, const char *value)
{
    fw_error err = {0};
    int rc = fw_run_config_set(c, key, value, "test", &err);
    CHECK_MSG(rc == 0, "%s = %s: %s", key, value, err.msg);
}

/* Make a random config satisfy the cross-key rules (through set). */
static void make_valid(fw_run_config *c)
{
    char a[64], b[64];
    static const char *const pairs[][2] = {
        {"aug.scale_min", "aug.scale_max"},
        {"aug.blur_sigma_min", "aug.blur_sigma_max"},
        {"aug.erase_area_min", "aug.erase_area_max"},
        {"aug.erase_ratio_min", "aug.erase_ratio_max"},
    };
    fw_error err = {0};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        CHECK(fw_run_config_get(c, pairs[i][0], a, sizeof a, &err) == 0);
        CHECK(fw_run_config_get(c, pairs[i][1], b, sizeof b, &err) == 0);
        if (strtod(a, NULL) > strtod(b, NULL)) {
            set_ok(c, pairs[i][0], b);
            set_ok(c, pairs[i][1], a);
        }
    }
    if (strcmp(c->device, "cpu") == 0)
        set_ok(c, "precision", "fp32");
    int weighted = (c->losses & FW_RUN_LOSS_ARCFACE && c->arcface_weight > 0) ||
                   (c->losses & FW_RUN_LOSS_SOFTMAX && c->softmax_weight > 0) ||
                   (c->losses & FW_RUN_LOSS_TRIPLET && c->triplet_weight > 0) ||
                   (c->losses & FW_RUN_LOSS_CONTRASTIVE && c->contrastive_weight > 0);
    if (!weighted) {
        set_ok(c, "head", "arcface+triplet");
        set_ok(c, "arcface.weight", "0.5");
    }
    if (c->sampler_k < 2)
        set_ok(c, "sampler.k", "2");
    if (!(c->pct_start > 0 && c->pct_start < 1))
        set_ok(c, "schedule.pct_start", "0.3");
    if (c->eta_min > c->lr)
        set_ok(c, "schedule.eta_min", "0");
    if (c->warmup_epochs >= c->epochs)
        set_ok(c, "schedule.warmup_epochs", "0");
}

static void test_random_round_trip(void)
{
    int n = 0;
    const fw_config_key *k = keys(&n);
    fw_rng r;
    fw_rng_init(&r, 20261129, 1);
    int valid = 0;
    for (int trial = 0; trial < 200; trial++) {
        fw_run_config a;
        fw_run_config_default(&a);
        for (int i = 0; i < n; i++) {
            char value[256];
            random_value(&r, &k[i], value, sizeof value);
            set_ok(&a, k[i].name, value);
        }
        make_valid(&a);
        fw_error err = {0};
        int ok = fw_run_config_validate(&a, &err) == 0;
        CHECK_MSG(ok, "trial %d: %s", trial, err.msg);
        valid += ok;

        char *text = NULL, *text2 = NULL;
        CHECK(fw_run_config_format(&a, &text, &err) == 0);
        fw_run_config b;
        fw_run_config_default(&b); /* padding zeroed the same way as in a */
        CHECK_MSG(fw_run_config_parse(&b, text, "formatted", &err) == 0, "%s", err.msg);
        CHECK_MSG(memcmp(&a, &b, sizeof a) == 0, "trial %d: parse(format(cfg)) differs", trial);
        CHECK(fw_run_config_format(&b, &text2, &err) == 0);
        CHECK(text && text2 && strcmp(text, text2) == 0);
        /* every line is "key = value" or "key =", in table order */
        const char *p = text;
        for (int i = 0; i < n && p; i++) {
            size_t len = strlen(k[i].name);
            CHECK_MSG(strncmp(p, k[i].name, len) == 0 && p[len] == ' ' && p[len + 1] == '=',
                      "line %d", i);
            p = strchr(p, '\n');
            p = p ? p + 1 : NULL;
        }
        CHECK(p && *p == '\0');
        free(text);
        free(text2);
    }
    CHECK_INT(valid, 200);
}

/* Short forms: a round number is written without noise digits. */
static void test_format_short(void)
{
    fw_run_config c;
    fw_run_config_default(&c);
    char v[64];
    fw_error err = {0};
    set_ok(&c, "lr", "3e-4");
    CHECK(fw_run_config_get(&c, "lr", v, sizeof v, &err) == 0);
    CHECK_STR(v, "0.0003");
    set_ok(&c, "aug.p_flip", "0.1");
    CHECK(fw_run_config_get(&c, "aug.p_flip", v, sizeof v, &err) == 0);
    CHECK_STR(v, "0.1");
    set_ok(&c, "lr", "0.30000000000000004"); /* 0.1 + 0.2 needs 17 digits */
    CHECK(fw_run_config_get(&c, "lr", v, sizeof v, &err) == 0);
    CHECK_STR(v, "0.30000000000000004");
    set_ok(&c, "head", "triplet + arcface");
    CHECK(fw_run_config_get(&c, "head", v, sizeof v, &err) == 0);
    CHECK_STR(v, "arcface+triplet");
    set_ok(&c, "seed", "18446744073709551615");
    CHECK(fw_run_config_get(&c, "seed", v, sizeof v, &err) == 0);
    CHECK_STR(v, "18446744073709551615");
    set_ok(&c, "input", "256X128");
    CHECK(c.input_w == 256 && c.input_h == 128);
    CHECK(fw_run_config_get(&c, "input", v, sizeof v, &err) == 0);
    CHECK_STR(v, "256x128");
    CHECK_INT(fw_run_config_get(&c, "input", v, 4, &err), FW_ETOOBIG);
    CHECK_INT(fw_run_config_get(&c, "epoch", v, sizeof v, &err), FW_ENOTFOUND);
    CHECK_STR(err.msg, "unknown key 'epoch'; did you mean 'epochs'?");
    set_ok(&c, "backbone", "resnet50");
    CHECK_INT(c.arch, 50);
    set_ok(&c, "channels", "3");
    CHECK_INT(c.channels, 3);
    set_ok(&c, "aug.border", "reflect");
    CHECK_INT(c.aug.border, FW_BORDER_REFLECT);
    set_ok(&c, "triplet.soft", "yes");
    CHECK_INT(c.triplet_soft, 1);
}

/* ---- refusals ------------------------------------------------------------------- */

/* value must be refused for key, naming the key and the origin, leaving cfg as it was. */
static void expect_refused(const char *key, const char *value)
{
    fw_run_config c, before;
    fw_run_config_default(&c);
    before = c;
    fw_error err = {0};
    int rc = fw_run_config_set(&c, key, value, "origin.conf:9", &err);
    CHECK_MSG(rc == FW_EINVAL, "%s = '%s' gave %d", key, value, rc);
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s: expected ", key);
    CHECK_MSG(strncmp(err.msg, prefix, strlen(prefix)) == 0, "%s = '%s': %s", key, value,
              err.msg);
    CHECK_MSG(contains(err.msg, "(origin.conf:9)"), "%s", err.msg);
    CHECK_MSG(memcmp(&c, &before, sizeof c) == 0, "%s = '%s' changed the config", key, value);
}

static void test_every_key_refuses(void)
{
    int n = 0;
    const fw_config_key *k = keys(&n);
    char v[128];
    for (int i = 0; i < n; i++) {
        const char *name = k[i].name;
        switch (k[i].type) {
        case FW_CFG_INT:
            snprintf(v, sizeof v, "%.0f", k[i].lo - 1);
            expect_refused(name, v);
            snprintf(v, sizeof v, "%.0f", k[i].hi + 1);
            expect_refused(name, v);
            expect_refused(name, "1.5");
            expect_refused(name, "12abc");
            expect_refused(name, "99999999999999999999");
            break;
        case FW_CFG_U64:
            expect_refused(name, "-1");
            expect_refused(name, "18446744073709551616");
            expect_refused(name, "0x10");
            break;
        case FW_CFG_REAL: {
            double span = k[i].hi - k[i].lo;
            snprintf(v, sizeof v, "%.17g", k[i].lo - span * 0.01 - 1e-9);
            expect_refused(name, v);
            snprintf(v, sizeof v, "%.17g", k[i].hi + span * 0.01 + 1e-6);
            expect_refused(name, v);
            expect_refused(name, "nan");
            expect_refused(name, "inf");
            expect_refused(name, "0.5.1");
            break;
        }
        case FW_CFG_BOOL:
            expect_refused(name, "2");
            expect_refused(name, "maybe");
            break;
        case FW_CFG_SIZE:
            snprintf(v, sizeof v, "%.0fx96", k[i].lo - 1);
            expect_refused(name, v);
            snprintf(v, sizeof v, "192x%.0f", k[i].hi + 1);
            expect_refused(name, v);
            expect_refused(name, "192");
            expect_refused(name, "192x");
            expect_refused(name, "x96");
            expect_refused(name, "-192x96");
            expect_refused(name, "192x96x3");
            break;
        case FW_CFG_ENUM:
            expect_refused(name, "nope");
            snprintf(v, sizeof v, "%s|", k[i].choices);
            expect_refused(name, v);
            break;
        case FW_CFG_FLAGS:
            expect_refused(name, "arcface+nope");
            expect_refused(name, "arcface+");
            expect_refused(name, "+");
            break;
        case FW_CFG_STRING:
            expect_refused(name, "a\x01z");
            expect_refused(name, "a #b");
            if (strcmp(name, "device") == 0) {
                expect_refused(name, "gpu");
                expect_refused(name, "cuda:");
                expect_refused(name, "cuda:0,");
                expect_refused(name, "cuda:1,1");
                expect_refused(name, "cuda:9999");
                expect_refused(name, "CPU");
            }
            break;
        }
        if (strcmp(name, "dataset") != 0) {
            expect_refused(name, "");
            expect_refused(name, "   ");
        }
    }
    /* the exact message of the brief */
    fw_run_config c;
    fw_run_config_default(&c);
    fw_error err = {0};
    CHECK_INT(fw_run_config_set(&c, "lr", "abc", "command line", &err), FW_EINVAL);
    CHECK_STR(err.msg, "lr: expected a real number in [1e-08, 10], got 'abc' (command line)");
    /* a control character in a value is not echoed raw */
    CHECK_INT(fw_run_config_set(&c, "lr", "1\x1b[2J", "x", &err), FW_EINVAL);
    CHECK(!strchr(err.msg, '\x1b'));
    /* a long dataset path fits up to its buffer, not beyond */
    char path[FW_RUN_PATH_MAX + 8];
    memset(path, 'p', sizeof path);
    path[FW_RUN_PATH_MAX - 1] = '\0';
    set_ok(&c, "dataset", path);
    path[FW_RUN_PATH_MAX - 1] = 'p';
    path[FW_RUN_PATH_MAX] = '\0';
    expect_refused("dataset", path);
    set_ok(&c, "dataset", "");
    CHECK_STR(c.dataset, "");
}

static void test_unknown_key(void)
{
    fw_run_config c, before;
    fw_run_config_default(&c);
    before = c;
    fw_error err = {0};
    CHECK_INT(fw_run_config_set(&c, "lrr", "1", "run.conf:3", &err), FW_ENOTFOUND);
    CHECK_STR(err.msg, "unknown key 'lrr' (run.conf:3); did you mean 'lr'?");
    CHECK_INT(fw_run_config_set(&c, "sampler.kk", "1", "x", &err), FW_ENOTFOUND);
    CHECK(contains(err.msg, "did you mean 'sampler.k'?"));
    CHECK_INT(fw_run_config_set(&c, "aug.p_flp", "1", "x", &err), FW_ENOTFOUND);
    CHECK(contains(err.msg, "did you mean 'aug.p_flip'?"));
    CHECK_INT(fw_run_config_set(&c, "Backbone", "resnet18", "x", &err), FW_ENOTFOUND);
    CHECK(contains(err.msg, "did you mean 'backbone'?"));
    CHECK_INT(fw_run_config_set(&c, "learning_rate", "1", "command line", &err), FW_ENOTFOUND);
    CHECK_STR(err.msg,
              "unknown key 'learning_rate' (command line); see man flukewatch.conf for the keys");
    CHECK(memcmp(&c, &before, sizeof c) == 0);
}

static void test_set_arg(void)
{
    fw_run_config c;
    fw_run_config_default(&c);
    fw_error err = {0};
    CHECK(fw_run_config_set_arg(&c, "lr=0.01", &err) == 0);
    CHECK(c.lr == 0.01);
    CHECK(fw_run_config_set_arg(&c, "  epochs =  3 ", &err) == 0);
    CHECK_INT(c.epochs, 3);
    CHECK(fw_run_config_set_arg(&c, "dataset=/data/a=b", &err) == 0);
    CHECK_STR(c.dataset, "/data/a=b");
    CHECK_INT(fw_run_config_set_arg(&c, "epochs", &err), FW_EINVAL);
    CHECK_STR(err.msg, "expected key=value, got 'epochs' (command line)");
    CHECK_INT(fw_run_config_set_arg(&c, "epochs=0", &err), FW_EINVAL);
    CHECK(contains(err.msg, "epochs: expected an integer in [1, 100000], got '0' (command line)"));
    CHECK_INT(fw_run_config_set_arg(&c, "epoch=3", &err), FW_ENOTFOUND);
    CHECK(contains(err.msg, "did you mean 'epochs'?"));
}

/* ---- text and files ------------------------------------------------------------- */

static void test_text_syntax(void)
{
    fw_run_config c, want;
    fw_run_config_default(&c);
    fw_run_config_default(&want);
    want.lr = 0.01;
    want.epochs = 12;
    strcpy(want.dataset, "/data/whales#2");
    want.sampler_p = 16;
    want.losses = FW_RUN_LOSS_ARCFACE | FW_RUN_LOSS_TRIPLET;
    want.aug.p_flip = 0.0f;
    const char *text = "\xEF\xBB\xBF# a recipe\r\n"
                       "\r\n"
                       "   # indented comment\n"
                       "lr = 0.5\n"
                       "lr=0.01   # the last one wins\r\n"
                       "\tepochs\t=\t12\t\n"
                       "dataset = /data/whales#2 # not part of the path\n"
                       "sampler.p = 16#no space: part of the value\n";
    fw_error err = {0};
    /* "16#no" is not an integer: a '#' only starts a comment after white space */
    CHECK_INT(fw_run_config_parse(&c, text, "r.conf", &err), FW_EINVAL);
    CHECK_MSG(contains(err.msg, "sampler.p: expected an integer") && contains(err.msg, "(r.conf:8)"),
              "%s", err.msg);

    fw_run_config_default(&c);
    const char *good = "\xEF\xBB\xBF# a recipe\r\n"
                       "\r\n"
                       "   # indented comment\n"
                       "lr = 0.5\n"
                       "lr=0.01   # the last one wins\r\n"
                       "\tepochs\t=\t12\t\n"
                       "dataset = /data/whales#2 # not part of the path\n"
                       "sampler.p = 16\n"
                       "head = arcface + triplet\n"
                       "aug.p_flip = 0 # no flips\n"
                       "dataset = /data/whales#2"; /* no final newline */
    CHECK_MSG(fw_run_config_parse(&c, good, "r.conf", &err) == 0, "%s", err.msg);
    CHECK(memcmp(&c, &want, sizeof c) == 0);

    /* refusals name FILE:LINE */
    fw_run_config_default(&c);
    CHECK_INT(fw_run_config_parse(&c, "lr = 0.1\n\njust words\n", "r.conf", &err), FW_EINVAL);
    CHECK_STR(err.msg, "expected 'key = value', got 'just words' (r.conf:3)");
    CHECK_INT(fw_run_config_parse(&c, "# c\n = 3\n", "r.conf", &err), FW_EINVAL);
    CHECK(contains(err.msg, "(r.conf:2)"));
    CHECK_INT(fw_run_config_parse(&c, "epochs =   # nothing\n", "r.conf", &err), FW_EINVAL);
    CHECK_STR(err.msg, "epochs: expected an integer in [1, 100000], got '' (r.conf:1)");
    CHECK_INT(fw_run_config_parse(&c, "\n\n\nlrr = 1\n", "run.conf", &err), FW_ENOTFOUND);
    CHECK_STR(err.msg, "unknown key 'lrr' (run.conf:4); did you mean 'lr'?");
    CHECK_INT(fw_run_config_parse(&c, "dataset =\n", "r.conf", &err), 0);
    CHECK_STR(c.dataset, "");
    /* an empty text changes nothing */
    fw_run_config_default(&want);
    fw_run_config_default(&c);
    CHECK(fw_run_config_parse(&c, "", "r.conf", &err) == 0);
    CHECK(memcmp(&c, &want, sizeof c) == 0);
}

static char tmpdir_[256];

static const char *tmpdir(void)
{
    if (!tmpdir_[0]) {
        snprintf(tmpdir_, sizeof tmpdir_, "/tmp/test_run_config.XXXXXX");
        if (!mkdtemp(tmpdir_))
            tmpdir_[0] = '\0';
    }
    return tmpdir_;
}

static int write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

static void test_load_file(void)
{
    if (!tmpdir()[0])
        SKIP("mkdtemp failed: %s", strerror(errno));
    char path[512];
    snprintf(path, sizeof path, "%s/run.conf", tmpdir());
    const char *text = "# recipe\nbackbone = resnet34\nsampler.k = 2\n\naug.p_flip = 1.5\n";
    CHECK(write_file(path, text, strlen(text)) == 0);
    fw_run_config c;
    fw_run_config_default(&c);
    fw_error err = {0};
    CHECK_INT(fw_run_config_load(&c, path, &err), FW_EINVAL);
    char want[600];
    snprintf(want, sizeof want, "aug.p_flip: expected a real number in [0, 1], got '1.5' (%s:5)",
             path);
    CHECK_STR(err.msg, want);

    /* a formatted config saved and loaded again is the same config */
    fw_run_config a;
    fw_run_config_default(&a);
    set_ok(&a, "backbone", "resnet34");
    set_ok(&a, "lr", "0.0123");
    char *formatted = NULL;
    CHECK(fw_run_config_format(&a, &formatted, &err) == 0);
    CHECK(formatted && write_file(path, formatted, strlen(formatted)) == 0);
    fw_run_config_default(&c);
    CHECK_MSG(fw_run_config_load(&c, path, &err) == 0, "%s", err.msg);
    CHECK(memcmp(&a, &c, sizeof a) == 0);
    free(formatted);

    CHECK(write_file(path, "lr = 0.1\n\0epochs = 2\n", 21) == 0);
    CHECK_INT(fw_run_config_load(&c, path, &err), FW_EFORMAT);
    CHECK(contains(err.msg, path));
    unlink(path);
    CHECK_INT(fw_run_config_load(&c, path, &err), FW_ENOTFOUND);
    CHECK(contains(err.msg, path));
    CHECK_INT(fw_run_config_load(&c, tmpdir(), &err), FW_EIO);
    rmdir(tmpdir());
    tmpdir_[0] = '\0';
}

/* ---- cross-key validation --------------------------------------------------------- */

/* Set key=value pairs on the defaults, then validate: expect the message to contain want
 * (NULL: expect success). */
static void expect_validate(const char *const *settings, int n, const char *want)
{
    fw_run_config c;
    fw_run_config_default(&c);
    for (int i = 0; i < n; i += 2)
        set_ok(&c, settings[i], settings[i + 1]);
    fw_error err = {0};
    int rc = fw_run_config_validate(&c, &err);
    if (!want) {
        CHECK_MSG(rc == 0, "%s", err.msg);
    } else {
        CHECK_MSG(rc == FW_EINVAL && contains(err.msg, want), "rc %d: '%s' lacks '%s'", rc,
                  err.msg, want);
    }
}

#define EXPECT_VALIDATE(want, ...)                                                     \
    do {                                                                               \
        static const char *const settings_[] = {__VA_ARGS__};                          \
        expect_validate(settings_, (int)(sizeof settings_ / sizeof settings_[0]), want); \
    } while (0)

static void test_cross_key(void)
{
    EXPECT_VALIDATE("precision=bf16 needs device=cuda", "precision", "bf16");
    EXPECT_VALIDATE("precision=fp16 needs device=cuda", "precision", "fp16");
    EXPECT_VALIDATE(NULL, "precision", "bf16", "device", "cuda:0");
    EXPECT_VALIDATE(NULL, "precision", "fp16", "device", "cuda:1,0");
    EXPECT_VALIDATE("weight 0", "arcface.weight", "0");
    EXPECT_VALIDATE("weight 0", "head", "arcface+triplet", "arcface.weight", "0",
                    "triplet.weight", "0");
    /* a zero weight next to a weighted term is fine (logged only) */
    EXPECT_VALIDATE(NULL, "head", "arcface+triplet", "arcface.weight", "0");
    /* a weight on an unselected loss does not count */
    EXPECT_VALIDATE("weight 0", "head", "softmax", "softmax.weight", "0", "arcface.weight", "1");
    EXPECT_VALIDATE("head=triplet needs sampler.k >= 2", "head", "triplet", "sampler.k", "1");
    EXPECT_VALIDATE("head=contrastive needs sampler.k >= 2", "head", "arcface+contrastive",
                    "sampler.k", "1");
    EXPECT_VALIDATE(NULL, "head", "arcface+softmax", "sampler.k", "1");
    EXPECT_VALIDATE("aug.scale_min", "aug.scale_min", "1.2", "aug.scale_max", "1.1");
    EXPECT_VALIDATE("aug.blur_sigma_min", "aug.blur_sigma_min", "1.3");
    EXPECT_VALIDATE("aug.erase_area_min", "aug.erase_area_min", "0.5");
    EXPECT_VALIDATE("aug.erase_ratio_min", "aug.erase_ratio_min", "4");
    EXPECT_VALIDATE("schedule.pct_start", "schedule.pct_start", "0");
    EXPECT_VALIDATE("schedule.pct_start", "schedule.pct_start", "1");
    EXPECT_VALIDATE(NULL, "schedule", "cosine", "schedule.pct_start", "0");
    EXPECT_VALIDATE("schedule.eta_min", "schedule", "cosine", "schedule.eta_min", "0.01");
    EXPECT_VALIDATE("schedule.eta_min", "schedule", "sgdr", "schedule.eta_min", "0.01");
    EXPECT_VALIDATE(NULL, "schedule", "one-cycle", "schedule.eta_min", "0.01");
    EXPECT_VALIDATE("schedule.warmup_epochs", "epochs", "3", "schedule.warmup_epochs", "3");
    EXPECT_VALIDATE(NULL, "epochs", "3", "schedule.warmup_epochs", "2.5");
    EXPECT_VALIDATE(NULL, "schedule", "step", "epochs", "3", "schedule.warmup_epochs", "5");

    /* values written straight into the struct are checked too */
    fw_run_config c;
    fw_error err = {0};
    fw_run_config_default(&c);
    c.embedding_dim = 5;
    CHECK_INT(fw_run_config_validate(&c, &err), FW_EINVAL);
    CHECK(contains(err.msg, "embedding: expected an integer in [8, 4096], got '5'"));
    fw_run_config_default(&c);
    c.lr = NAN;
    CHECK_INT(fw_run_config_validate(&c, &err), FW_EINVAL);
    CHECK(strncmp(err.msg, "lr: ", 4) == 0);
    fw_run_config_default(&c);
    c.arch = 101;
    CHECK_INT(fw_run_config_validate(&c, &err), FW_EINVAL);
    CHECK(strncmp(err.msg, "backbone: ", 10) == 0);
    fw_run_config_default(&c);
    c.losses = 0;
    CHECK_INT(fw_run_config_validate(&c, &err), FW_EINVAL);
    CHECK(strncmp(err.msg, "head: ", 6) == 0);
    fw_run_config_default(&c);
    strcpy(c.device, "cuda:0,0");
    CHECK_INT(fw_run_config_validate(&c, &err), FW_EINVAL);
    CHECK(strncmp(err.msg, "device: ", 8) == 0);
    fw_run_config_default(&c);
    c.aug.shear_deg = 70.0f;
    CHECK_INT(fw_run_config_validate(&c, &err), FW_EINVAL);
    CHECK(strncmp(err.msg, "aug.shear_deg: ", 15) == 0);
}

static void test_device_parse(void)
{
    int cuda = -1, ids[8], n = -1;
    fw_error err = {0};
    CHECK(fw_run_config_device_parse("cpu", &cuda, ids, 8, &n, &err) == 0);
    CHECK(cuda == 0 && n == 0);
    CHECK(fw_run_config_device_parse("cuda", &cuda, ids, 8, &n, &err) == 0);
    CHECK(cuda == 1 && n == 1 && ids[0] == 0);
    CHECK(fw_run_config_device_parse("cuda:2,0,15", &cuda, ids, 8, &n, &err) == 0);
    CHECK(cuda == 1 && n == 3 && ids[0] == 2 && ids[1] == 0 && ids[2] == 15);
    CHECK(fw_run_config_device_parse("cuda:1023", &cuda, NULL, 0, &n, &err) == 0);
    CHECK_INT(n, 1);
    static const char *const bad[] = {"", "gpu", "cuda0", "cuda:", "cuda:,1", "cuda:1,",
                                      "cuda:1,,2", "cuda:-1", "cuda:1024", "cuda:1,1", "cuda: 1",
                                      "cpu:0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = fw_run_config_device_parse(bad[i], &cuda, ids, 8, &n, &err);
        CHECK_MSG(rc == FW_EINVAL && strncmp(err.msg, "device: ", 8) == 0, "'%s': %d %s", bad[i],
                  rc, err.msg);
    }
}

/* ---- translation ------------------------------------------------------------------ */

static void test_learner_translation(void)
{
    fw_run_config c;
    fw_run_config_default(&c);
    set_ok(&c, "backbone", "resnet34");
    set_ok(&c, "channels", "3");
    set_ok(&c, "width", "0.25");
    set_ok(&c, "embedding", "64");
    set_ok(&c, "pool", "avg");
    set_ok(&c, "dropout", "0.1");
    set_ok(&c, "head", "contrastive+triplet+softmax+arcface");
    set_ok(&c, "arcface.scale", "64");
    set_ok(&c, "arcface.margin", "0.5");
    set_ok(&c, "arcface.subcenters", "3");
    set_ok(&c, "arcface.weight", "0.75");
    set_ok(&c, "softmax.weight", "0.25");
    set_ok(&c, "label_smoothing", "0.1");
    set_ok(&c, "triplet.margin", "0.2");
    set_ok(&c, "triplet.weight", "2");
    set_ok(&c, "triplet.soft", "on");
    set_ok(&c, "contrastive.margin", "1.5");
    set_ok(&c, "contrastive.weight", "0.5");
    set_ok(&c, "optimizer", "sgd");
    set_ok(&c, "lr", "0.05");
    set_ok(&c, "momentum", "0.8");
    set_ok(&c, "weight_decay", "0.001");
    set_ok(&c, "head_lr_mult", "4");
    set_ok(&c, "threads", "2");
    set_ok(&c, "clip_norm", "2.5");
    set_ok(&c, "epochs", "3");
    set_ok(&c, "schedule.pct_start", "0.4");
    set_ok(&c, "schedule.div", "10");
    set_ok(&c, "schedule.div_final", "100");
    set_ok(&c, "schedule.warmup_epochs", "0.5");
    set_ok(&c, "seed", "7");
    fw_error err = {0};
    CHECK_MSG(fw_run_config_validate(&c, &err) == 0, "%s", err.msg);

    fw_learner_config lc;
    fw_run_config_learner(&c, 11, 37, &lc);
    CHECK_INT(lc.model.arch, 34);
    CHECK_INT(lc.model.in_channels, 3);
    CHECK(lc.model.width_mult == 0.25f);
    CHECK_INT(lc.model.embedding_dim, 64);
    CHECK_INT(lc.model.pool, FW_NECK_AVG);
    CHECK(lc.model.dropout == 0.1f);
    CHECK(lc.model.gem_p == 3.0f);
    CHECK(lc.model.seed == 7);
    CHECK_INT(lc.head.emb_dim, 64);
    CHECK_INT(lc.head.classes, 11);
    CHECK(lc.head.seed == 7);
    CHECK_INT(lc.head.n_terms, 4);
    CHECK_INT(lc.head.terms[0].kind, FW_LOSS_ARCFACE);
    CHECK(lc.head.terms[0].weight == 0.75);
    CHECK(lc.head.terms[0].arcface.scale == 64 && lc.head.terms[0].arcface.margin == 0.5);
    CHECK_INT(lc.head.terms[0].arcface.subcenters, 3);
    CHECK(lc.head.terms[0].arcface.label_smoothing == 0.1);
    CHECK_INT(lc.head.terms[1].kind, FW_LOSS_SOFTMAX);
    CHECK(lc.head.terms[1].weight == 0.25);
    CHECK(lc.head.terms[1].softmax.label_smoothing == 0.1);
    CHECK_INT(lc.head.terms[1].softmax_bias, 1);
    CHECK_INT(lc.head.terms[2].kind, FW_LOSS_TRIPLET);
    CHECK(lc.head.terms[2].weight == 2.0 && lc.head.terms[2].triplet.margin == 0.2);
    CHECK_INT(lc.head.terms[2].triplet.soft_margin, 1);
    CHECK_INT(lc.head.terms[3].kind, FW_LOSS_CONTRASTIVE);
    CHECK(lc.head.terms[3].weight == 0.5 && lc.head.terms[3].contrastive.margin == 1.5);
    CHECK_INT(lc.optim.kind, FW_OPTIM_SGD);
    CHECK(lc.optim.lr == 0.05 && lc.optim.momentum == 0.8 && lc.optim.weight_decay == 0.001);
    CHECK(lc.optim.head_lr_mult == 4.0);
    CHECK_INT(lc.optim.threads, 2);
    CHECK_INT(lc.optim.nesterov, 0);
    CHECK_INT(lc.schedule.kind, FW_SCHED_ONE_CYCLE);
    CHECK(lc.schedule.lr_max == 0.05);
    CHECK_INT(lc.schedule.total_steps, 3 * 37);
    CHECK_INT(lc.schedule.warmup_steps, 19); /* round(0.5 * 37) */
    CHECK(lc.schedule.pct_start == 0.4 && lc.schedule.div == 10 && lc.schedule.div_final == 100);
    CHECK(lc.schedule.mom_max == 0.95 && lc.schedule.mom_min == 0.85); /* fastai's */
    CHECK(lc.clip_norm == 2.5);
    CHECK_INT(lc.threads, 2);
    CHECK(fw_schedule_validate(&lc.schedule, &err) == 0);
    /* the schedule starts at lr/div after the warm-up and peaks at lr */
    fw_schedule_point p = fw_schedule_at(&lc.schedule, lc.schedule.warmup_steps);
    CHECK_NEAR(p.lr, 0.05 / 10, 1e-12);

    /* AdamW's other hyper-parameters are the library defaults */
    fw_run_config_default(&c);
    fw_run_config_learner(&c, 5, 10, &lc);
    fw_optim_config od;
    fw_optim_config_default(&od, FW_OPTIM_ADAMW);
    CHECK(lc.optim.beta2 == od.beta2 && lc.optim.eps == od.eps);
    CHECK(lc.optim.weight_decay == 1e-4 && lc.optim.lr == 5e-4 && lc.optim.head_lr_mult == 10);
    CHECK_INT(lc.head.n_terms, 1);
    CHECK_INT(lc.schedule.total_steps, 400);
    CHECK_INT(lc.schedule.warmup_steps, 0);

    /* sgdr and step lengths follow the epoch */
    set_ok(&c, "schedule", "sgdr");
    set_ok(&c, "schedule.cycle_epochs", "1.5");
    set_ok(&c, "schedule.t_mult", "3");
    fw_run_config_learner(&c, 5, 10, &lc);
    CHECK_INT(lc.schedule.kind, FW_SCHED_SGDR);
    CHECK_INT(lc.schedule.t0, 15);
    CHECK_INT(lc.schedule.t_mult, 3);
    set_ok(&c, "schedule", "step");
    set_ok(&c, "schedule.step_epochs", "4");
    set_ok(&c, "schedule.gamma", "0.5");
    fw_run_config_learner(&c, 5, 10, &lc);
    CHECK_INT(lc.schedule.step_size, 40);
    CHECK(lc.schedule.gamma == 0.5);
    p = fw_schedule_at(&lc.schedule, 40);
    CHECK_NEAR(p.lr, 5e-4 * 0.5, 1e-15);
}

/* The learner accepts what the translation produces (a tiny model). */
static void test_learner_accepts(void)
{
    fw_run_config c;
    fw_run_config_default(&c);
    set_ok(&c, "width", "0.125");
    set_ok(&c, "embedding", "16");
    set_ok(&c, "head", "arcface+softmax+triplet+contrastive");
    set_ok(&c, "arcface.subcenters", "2");
    set_ok(&c, "threads", "1");
    fw_error err = {0};
    CHECK_MSG(fw_run_config_validate(&c, &err) == 0, "%s", err.msg);
    fw_learner_config lc;
    fw_run_config_learner(&c, 7, 20, &lc);
    fw_learner *l = NULL;
    int rc = fw_learner_create(fw_backend_cpu(), &lc, &l, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (l) {
        CHECK(fw_model_get_config(fw_learner_model(l))->embedding_dim == 16);
        CHECK(fw_learner_steps_done(l) == 0);
        fw_learner_destroy(l);
    }
}

static void test_augment_translation(void)
{
    fw_run_config c;
    fw_run_config_default(&c);
    set_ok(&c, "input", "128x64");
    set_ok(&c, "aug.rotate_deg", "20");
    set_ok(&c, "aug.border", "constant");
    set_ok(&c, "aug.fill", "0.5");
    set_ok(&c, "aug.flip_identity", "1");
    fw_augment_opts o, d;
    fw_run_config_augment(&c, &o);
    fw_augment_opts_default(&d);
    fw_error err = {0};
    CHECK_MSG(fw_augment_opts_check(&o, &err) == 0, "%s", err.msg);
    CHECK_INT(o.out_width, 128);
    CHECK_INT(o.out_height, 64);
    CHECK(o.rotate_deg == 20.0f && o.fill == 0.5f && o.flip_identity == 1);
    CHECK_INT(o.border, FW_BORDER_CONSTANT);
    CHECK(o.p_erase == d.p_erase && o.gamma == d.gamma);
    CHECK(memcmp(o.mean, d.mean, sizeof o.mean) == 0 && memcmp(o.std, d.std, sizeof o.std) == 0);
    /* one channel: the drawer normalises by the ImageNet means (0.449 / 0.226) */
    fw_aug_params p;
    fw_rng r;
    fw_rng_init(&r, 1, 0);
    int flipped;
    fw_aug_params_draw(&o, &r, 200, 100, 1, 0.5f, &p, &flipped);
    CHECK_NEAR(p.mean[0], 0.449, 1e-6);
    CHECK_NEAR(1.0 / p.inv_std[0], 0.226, 1e-6);
}

/* ---- the man page ------------------------------------------------------------------- */

/* The roff text with \- -> -, \fB/\fI/\fR/\fP dropped, "\ " -> " " and "\&" dropped. */
static void unroff(char *s)
{
    char *o = s;
    for (char *p = s; *p;) {
        if (p[0] == '\\' && p[1] == '-')
            *o++ = '-', p += 2;
        else if (p[0] == '\\' && p[1] == 'f' && p[2])
            p += 3;
        else if (p[0] == '\\' && (p[1] == '&' || p[1] == '/'))
            p += 2;
        else if (p[0] == '\\' && p[1] == ' ')
            *o++ = ' ', p += 2;
        else
            *o++ = *p++;
    }
    *o = '\0';
}

static void test_man_page(void)
{
    const char *top = getenv("TOP_SRCDIR");
    if (!top)
        SKIP("TOP_SRCDIR is not set (run through make check)");
    char path[1024];
    snprintf(path, sizeof path, "%s/man/flukewatch.conf.5", top);
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "%s: %s", path, strerror(errno));
    if (!f)
        return;
    static char page[1 << 17];
    size_t len = fread(page, 1, sizeof page - 1, f);
    fclose(f);
    page[len] = '\0';
    CHECK(len < sizeof page - 1);
    CHECK(contains(page, ".SH NAME") && contains(page, ".SH SYNOPSIS") && contains(page, ".SH DESCRIPTION") &&
          contains(page, ".SH EXAMPLE") && contains(page, ".SH FILES") &&
          contains(page, ".SH SEE ALSO") && contains(page, "flukewatch (1)"));

    int n = 0;
    const fw_config_key *k = keys(&n);
    fw_run_config c;
    fw_run_config_default(&c);
    fw_error err = {0};
    /* each key: ".TP\n.B key\n" then a line with its default */
    for (int i = 0; i < n; i++) {
        char head[160];
        snprintf(head, sizeof head, ".TP\n.B %s\n", k[i].name);
        const char *entry = strstr(page, head);
        CHECK_MSG(entry != NULL, "no entry '.TP .B %s' in %s", k[i].name, path);
        if (!entry)
            continue;
        entry += strlen(head);
        const char *end = strstr(entry, "\n.TP\n");
        const char *end2 = strstr(entry, "\n.SH ");
        if (!end || (end2 && end2 < end))
            end = end2 ? end2 : entry + strlen(entry);
        char text[4096];
        snprintf(text, sizeof text, "%.*s", (int)(end - entry), entry);
        unroff(text);
        char value[1100], want[1200];
        CHECK(fw_run_config_get(&c, k[i].name, value, sizeof value, &err) == 0);
        snprintf(want, sizeof want, "default %s", value[0] ? value : "empty");
        CHECK_MSG(contains(text, want), "%s: the entry does not say '%s'", k[i].name, want);
        if (k[i].choices) {
            char choices[256];
            snprintf(choices, sizeof choices, "%s", k[i].choices);
            for (char *tok = strtok(choices, "|"); tok; tok = strtok(NULL, "|"))
                CHECK_MSG(contains(text, tok), "%s: choice %s not documented", k[i].name, tok);
        }
    }
    /* and no entry documents a key that does not exist */
    const char *keys_sec = strstr(page, ".SH KEYS");
    CHECK(keys_sec != NULL);
    const char *keys_end = keys_sec ? strstr(keys_sec + 1, "\n.SH ") : NULL;
    for (const char *p = keys_sec; p && (!keys_end || p < keys_end);) {
        p = strstr(p, ".TP\n.B ");
        if (!p || (keys_end && p > keys_end))
            break;
        p += 7;
        char name[128];
        size_t l = strcspn(p, "\n");
        snprintf(name, sizeof name, "%.*s", (int)l, p);
        int found = 0;
        for (int i = 0; i < n; i++)
            found |= strcmp(name, k[i].name) == 0;
        CHECK_MSG(found, "man page documents '%s', which is no key", name);
    }

    /* the EXAMPLE recipe parses and validates */
    const char *ex = strstr(page, ".SH EXAMPLE");
    const char *nf = ex ? strstr(ex, ".nf\n") : NULL;
    const char *fi = nf ? strstr(nf, "\n.fi") : NULL;
    CHECK(nf && fi);
    if (nf && fi) {
        char example[8192];
        snprintf(example, sizeof example, "%.*s", (int)(fi - nf - 4), nf + 4);
        unroff(example);
        fw_run_config e;
        fw_run_config_default(&e);
        CHECK_MSG(fw_run_config_parse(&e, example, "EXAMPLE", &err) == 0, "%s", err.msg);
        CHECK_MSG(fw_run_config_validate(&e, &err) == 0, "%s", err.msg);
        /* it is the default recipe: only the dataset differs */
        CHECK(e.dataset[0] != '\0');
        memset(e.dataset, 0, sizeof e.dataset);
        CHECK_MSG(memcmp(&e, &c, sizeof e) == 0, "the EXAMPLE is not the default recipe");
    }
}

int main(void)
{
    RUN(test_defaults_validate);
    RUN(test_key_table);
    RUN(test_random_round_trip);
    RUN(test_format_short);
    RUN(test_every_key_refuses);
    RUN(test_unknown_key);
    RUN(test_set_arg);
    RUN(test_text_syntax);
    RUN(test_load_file);
    RUN(test_cross_key);
    RUN(test_device_parse);
    RUN(test_learner_translation);
    RUN(test_learner_accepts);
    RUN(test_augment_translation);
    RUN(test_man_page);
    return tap_done();
}
