/* test_dist_group.c — the in-process data-parallel group: three member
 * threads run every collective through dist.h many times in a row and get
 * the same bits as a sum/max/gather/broadcast written out here; a member that
 * aborts breaks the group and the others' waiting collectives fail instead of
 * waiting for ever. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "dist_group.h"
#include "tap.h"

enum { MEMBERS = 3, ROUNDS = 200, N = 1000 };

typedef struct member {
    fw_dist *d;
    int rank;
    int bad;      /* results that differ from the expected */
    int rc;       /* first error code */
    int abort_at; /* >= 0: abort at this round instead (the broken-group test) */
} member;

static float value(int rank, int round, int i)
{
    return (float)((rank + 1) * 0.25 + round * 0.5 + i * 0.001);
}

static void *run_member(void *arg)
{
    member *m = arg;
    fw_error err = {0};
    float buf[N];
    double dbuf[8];
    int gathered[MEMBERS];
    for (int round = 0; round < ROUNDS && m->rc == 0; round++) {
        if (round == m->abort_at) {
            fw_dist_abort(m->d, 1);
            m->rc = -1000;
            break;
        }
        for (int i = 0; i < N; i++)
            buf[i] = value(m->rank, round, i);
        int rc = fw_dist_allreduce_sum_f32(m->d, buf, N, &err);
        for (int i = 0; rc == 0 && i < N; i++) {
            float want = value(0, round, i);
            for (int r = 1; r < MEMBERS; r++)
                want += value(r, round, i);
            m->bad += buf[i] != want;
        }
        for (int i = 0; rc == 0 && i < 8; i++)
            dbuf[i] = m->rank * 10.0 + i + round;
        if (rc == 0)
            rc = fw_dist_allreduce_sum_f64(m->d, dbuf, 8, &err);
        for (int i = 0; rc == 0 && i < 8; i++)
            m->bad += dbuf[i] != 30.0 + 3.0 * (i + round);
        int mx = (m->rank * 7 + round) % 5;
        if (rc == 0)
            rc = fw_dist_allreduce_max_int(m->d, &mx, &err);
        int want_max = 0;
        for (int r = 0; r < MEMBERS; r++)
            want_max = (r * 7 + round) % 5 > want_max ? (r * 7 + round) % 5 : want_max;
        m->bad += rc == 0 && mx != want_max;
        int mine = m->rank * 100 + round;
        if (rc == 0)
            rc = fw_dist_allgather(m->d, &mine, gathered, sizeof mine, &err);
        for (int r = 0; rc == 0 && r < MEMBERS; r++)
            m->bad += gathered[r] != r * 100 + round;
        uint64_t b = m->rank == 0 ? 0xABCD0000u + (unsigned)round : 0;
        if (rc == 0)
            rc = fw_dist_bcast(m->d, &b, sizeof b, &err);
        m->bad += rc == 0 && b != 0xABCD0000u + (unsigned)round;
        if (rc == 0)
            rc = fw_dist_barrier(m->d, &err);
        if (rc)
            m->rc = rc;
    }
    return NULL;
}

static int run_group(member *ms, int abort_rank, int abort_round)
{
    fw_dist_group *g = NULL;
    fw_error err = {0};
    CHECK_INT(fw_dist_group_create(MEMBERS, &g, &err), FW_OK);
    if (!g)
        return -1;
    pthread_t th[MEMBERS];
    for (int r = 0; r < MEMBERS; r++) {
        ms[r] = (member){.rank = r, .abort_at = r == abort_rank ? abort_round : -1};
        CHECK_INT(fw_dist_group_member(g, r, &ms[r].d, &err), FW_OK);
        CHECK_INT(fw_dist_rank(ms[r].d), r);
        CHECK_INT(fw_dist_size(ms[r].d), MEMBERS);
    }
    for (int r = 0; r < MEMBERS; r++)
        pthread_create(&th[r], NULL, run_member, &ms[r]);
    for (int r = 0; r < MEMBERS; r++)
        pthread_join(th[r], NULL);
    for (int r = 0; r < MEMBERS; r++)
        fw_dist_finalize(ms[r].d);
    fw_dist_group_free(g);
    return 0;
}

static void test_collectives(void)
{
    member ms[MEMBERS];
    if (run_group(ms, -1, -1) < 0)
        return;
    for (int r = 0; r < MEMBERS; r++) {
        CHECK_MSG(ms[r].rc == 0, "member %d: error %d", r, ms[r].rc);
        CHECK_MSG(ms[r].bad == 0, "member %d: %d wrong results", r, ms[r].bad);
    }
}

static void test_abort_breaks_the_group(void)
{
    member ms[MEMBERS];
    if (run_group(ms, 1, 37) < 0) /* returns: nobody waits for ever */
        return;
    CHECK_INT(ms[1].rc, -1000);
    CHECK_INT(ms[0].rc, FW_EDEVICE);
    CHECK_INT(ms[2].rc, FW_EDEVICE);
    CHECK(ms[0].bad == 0 && ms[2].bad == 0);
}

int main(void)
{
    RUN(test_collectives);
    RUN(test_abort_breaks_the_group);
    return tap_done();
}
