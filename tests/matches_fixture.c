/* matches_fixture.c — builds what `flukewatch matches` reads, without the
 * trainer: in WORKSPACE, one run whose config text is "dataset = DIR\n" and
 * one evaluation whose queries and top-5 matches are taken from the (synth)
 * dataset in DIR. It first adds one train image whose whale id holds escape
 * sequences (evil0001.jpg, a copy of the first train image) to DIR's
 * train.csv, so that the printing of hostile ids can be tested.
 *
 * usage: matches_fixture WORKSPACE DIR     (prints the new run id)
 *
 * Queries (train images of whales with at least two images, first in file
 * order, one per whale): query j has its true id at rank j+1 for j < 5 and
 * none for j = 5; the other slots hold other whales, new_whale (rank 4 of
 * query 0) and the escape id (rank 3 of query 0).
 * A last query is a new_whale image with new_whale first.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "decode.h"
#include "store.h"

#define EVIL_IMAGE "evil0001.jpg"
#define EVIL_ID "w_\033[31mEVIL\033]0;pwned\007\033[2J"
#define N_KNOWN_QUERIES 6

static int die(const char *what, const fw_error *err)
{
    fprintf(stderr, "matches_fixture: %s: %s\n", what, err ? err->msg : "");
    return 1;
}

/* Copy the first train image to train/evil0001.jpg and append its row. */
static int add_evil_row(const fw_dataset *ds, fw_error *err)
{
    char src[4096], dst[4096], csv[4096];
    FW_TRY(fw_dataset_path(ds, "train", ds->train[0].image, src, sizeof src, err));
    FW_TRY(fw_dataset_path(ds, "train", EVIL_IMAGE, dst, sizeof dst, err));
    snprintf(csv, sizeof csv, "%s/train.csv", ds->root);
    uint8_t *bytes = NULL;
    size_t len = 0;
    FW_TRY(fw_read_file(src, (size_t)64 << 20, &bytes, &len, err));
    FILE *f = fopen(dst, "wb");
    int ok = f && fwrite(bytes, 1, len, f) == len;
    if (f && fclose(f) != 0)
        ok = 0;
    free(bytes);
    if (!ok)
        return fw_fail(err, FW_EIO, "%s: cannot write", dst);
    f = fopen(csv, "ab");
    if (!f)
        return fw_fail(err, FW_EIO, "%s: cannot append", csv);
    ok = fprintf(f, "%s,\"%s\"\n", EVIL_IMAGE, EVIL_ID) > 0;
    if (fclose(f) != 0 || !ok)
        return fw_fail(err, FW_EIO, "%s: cannot append", csv);
    return FW_OK;
}

static int count_images(const fw_dataset *ds, int whale)
{
    int n = 0;
    for (long i = 0; i < ds->n_train; i++)
        n += ds->train[i].whale == whale;
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: matches_fixture WORKSPACE DATASET_DIR\n");
        return 2;
    }
    fw_error err;
    fw_error_clear(&err);
    fw_dataset ds;
    if (fw_dataset_load(&ds, argv[2], NULL, &err) < 0)
        return die("dataset", &err);
    if (fw_dataset_whale_index(&ds, EVIL_ID) < -1) {
        if (add_evil_row(&ds, &err) < 0)
            return die("escape row", &err);
        fw_dataset_free(&ds);
        if (fw_dataset_load(&ds, argv[2], NULL, &err) < 0)
            return die("dataset after the escape row", &err);
    }

    /* queries: one image per whale with >= 2 images, then one new_whale image */
    fw_eval_query queries[N_KNOWN_QUERIES + 1];
    memset(queries, 0, sizeof queries);
    int n_q = 0;
    int evil = fw_dataset_whale_index(&ds, EVIL_ID);
    for (long i = 0; i < ds.n_train && n_q < N_KNOWN_QUERIES; i++) {
        int w = ds.train[i].whale;
        if (w < 0 || w == evil || count_images(&ds, w) < 2)
            continue;
        int seen = 0;
        for (int j = 0; j < n_q; j++)
            seen |= !strcmp(queries[j].true_id, ds.whales[w]);
        if (seen)
            continue;
        queries[n_q].image = ds.train[i].image;
        queries[n_q].true_id = ds.whales[w];
        n_q++;
    }
    if (n_q < N_KNOWN_QUERIES) {
        fprintf(stderr, "matches_fixture: the dataset has too few whales with two images\n");
        return 1;
    }
    for (long i = 0; i < ds.n_train; i++)
        if (ds.train[i].whale == FW_NEW_WHALE) {
            queries[n_q].image = ds.train[i].image;
            queries[n_q].true_id = FW_NEW_WHALE_ID;
            n_q++;
            break;
        }

    char *new_whale = FW_NEW_WHALE_ID;
    for (int j = 0; j < n_q; j++) {
        fw_eval_query *q = &queries[j];
        int right = !strcmp(q->true_id, FW_NEW_WHALE_ID) ? 0 : j; /* 0-based slot, 5 = none */
        int next_other = 0;
        for (int k = 0; k < 5; k++) {
            q->similarity[k] = 0.95 - 0.1 * k - 0.01 * j;
            if (k == right) {
                q->match_id[k] = q->true_id;
            } else if (j == 0 && k == 3) {
                q->match_id[k] = new_whale;
            } else if (j == 0 && k == 2) {
                q->match_id[k] = EVIL_ID;
            } else {
                /* the next known whale that is not the true one */
                while (next_other < ds.n_whales && (!strcmp(ds.whales[next_other], q->true_id) ||
                                                    next_other == evil))
                    next_other++;
                q->match_id[k] = next_other < ds.n_whales ? ds.whales[next_other++] : new_whale;
            }
        }
    }

    fw_store *s = NULL;
    if (fw_store_open(argv[1], &s, &err) < 0)
        return die("store", &err);
    char config[4200];
    snprintf(config, sizeof config, "dataset = %s\n", argv[2]);
    fw_run_spec spec = {.name = "matches fixture", .config = config, .backend = "cpu"};
    char run_id[FW_RUN_ID_CAP];
    if (fw_store_run_create(s, &spec, run_id, &err) < 0)
        return die("run", &err);
    double map5 = 0, top1 = 0;
    for (int j = 0; j < n_q; j++)
        for (int k = 0; k < 5; k++)
            if (!strcmp(queries[j].match_id[k], queries[j].true_id)) {
                map5 += 1.0 / (k + 1);
                top1 += k == 0;
                break;
            }
    fw_evaluation e = {
        .checkpoint = "best.fwc",
        .step = 120,
        .epoch = 3.0,
        .map5 = map5 / n_q,
        .top1 = top1 / n_q,
        .threshold = 0.5,
        .n_queries = n_q,
        .queries = queries,
    };
    snprintf(e.run_id, sizeof e.run_id, "%s", run_id);
    if (fw_store_eval_put(s, &e, NULL, &err) < 0)
        return die("evaluation", &err);
    fw_store_close(s);
    fw_dataset_free(&ds);
    printf("%s\n", run_id);
    return 0;
}
