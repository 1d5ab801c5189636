/*
 * node_scrub.c: the scrubber, one background thread per device, so that a flipped bit in a chunk
 * nobody reads is found (and the copy quarantined, so a replica refills it) long before the other
 * copies are lost too.
 *
 * A pass verifies every chunk (node_store_chunk_scrub: header, xxh3, SHA-256 against the id; a bad
 * copy is quarantined) in id order, then checks that every record decodes (og_rec_decode; a bad
 * record is counted and logged: the store cannot repair it, a newer write or read repair does).
 * Reading is paced to bytes_rate bytes per second over the pass, so the scrubber takes a bounded
 * share of the disk. A pass starts at most once per interval (counted from the previous start).
 *
 * The position (phase, last id or record key, pass start, last pass end) is kept in the store as
 * meta value "scrub" after every step, so a restart resumes the pass instead of starting over.
 * Value: u8 phase | u64 pass_start_ns | u64 last_pass_ns | cursor bytes (big-endian).
 */
#include "node_int.h"
#include "og_rec.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCRUB_CHUNKS_STEP 64   /* chunk ids listed per index walk */
#define SCRUB_RECS_STEP 256    /* records checked per index walk */
#define SCRUB_CURSOR_MAX 65536 /* a record key: 'r' + table + NUL + key (keys are < 16 KiB) */
#define SCRUB_POS_HDR 17
#define SCRUB_META "scrub"

struct st_node_scrub_t {
    node_store_t *store; /* not owned */
    const char *dev;     /* not owned: for logs */
    node_scrub_opts_t opts;
    pthread_t th;
    int started;

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;  /* stop was asked */
    int stop;
    node_scrub_stat_t st;
    char cursor[SCRUB_CURSOR_MAX];
    size_t cursor_len;

    /* Pacing, touched by the thread only: bytes read since pace_start_ns. */
    uint64_t pace_start_ns, paced_bytes;
};

/* Waits until deadline_ns (og_time_ns clock) or stop. 1 when stopping. */
static int scrub_wait_until(node_scrub_t *sc, uint64_t deadline_ns)
{
    struct timespec ts = {(time_t)(deadline_ns / 1000000000ull), (long)(deadline_ns % 1000000000ull)};
    pthread_mutex_lock(&sc->mu);
    while (!sc->stop && og_time_ns() < deadline_ns)
        if (pthread_cond_timedwait(&sc->cv, &sc->mu, &ts) == ETIMEDOUT)
            break;
    int stop = sc->stop;
    pthread_mutex_unlock(&sc->mu);
    return stop;
}

/* Accounts bytes just read and sleeps as long as the pass is ahead of bytes_rate. 1 when stopping. */
static int scrub_pace(node_scrub_t *sc, uint64_t bytes)
{
    sc->paced_bytes += bytes;
    uint64_t due = sc->pace_start_ns + (uint64_t)((double)sc->paced_bytes * 1e9 / (double)sc->opts.bytes_rate);
    return scrub_wait_until(sc, due);
}

/* Saves the position (see the top). A failure only costs re-verifying after a restart. */
static void scrub_save(node_scrub_t *sc)
{
    unsigned char *v = malloc(SCRUB_POS_HDR + SCRUB_CURSOR_MAX);
    if (!v)
        return;
    pthread_mutex_lock(&sc->mu);
    v[0] = (unsigned char)sc->st.phase;
    og_be64_put(v + 1, sc->st.pass_start_ns);
    og_be64_put(v + 9, sc->st.last_pass_ns);
    memcpy(v + SCRUB_POS_HDR, sc->cursor, sc->cursor_len);
    size_t len = SCRUB_POS_HDR + sc->cursor_len;
    pthread_mutex_unlock(&sc->mu);
    node_store_meta_put(sc->store, SCRUB_META, v, len);
    free(v);
}

/* Loads the saved position; none (or an unreadable one) means: the first pass starts now. */
static void scrub_load(node_scrub_t *sc)
{
    char *v;
    size_t len;
    sc->st.phase = 'w';
    if (node_store_meta_get(sc->store, SCRUB_META, &v, &len) != 0)
        return;
    const unsigned char *p = (const unsigned char *)v;
    if (len >= SCRUB_POS_HDR && len - SCRUB_POS_HDR <= SCRUB_CURSOR_MAX &&
        (p[0] == 'c' || p[0] == 'r' || p[0] == 'w')) {
        sc->st.phase = p[0];
        if (p[0] == 'c' && len - SCRUB_POS_HDR != NODE_ID_LEN)
            len = SCRUB_POS_HDR; /* a chunk position is an id or nothing */
        sc->st.pass_start_ns = og_be64_get(p + 1);
        sc->st.last_pass_ns = og_be64_get(p + 9);
        sc->cursor_len = len - SCRUB_POS_HDR;
        memcpy(sc->cursor, v + SCRUB_POS_HDR, sc->cursor_len);
    }
    free(v);
}

/* Moves to phase (under mu), the cursor back to the start. */
static void scrub_phase(node_scrub_t *sc, int phase)
{
    pthread_mutex_lock(&sc->mu);
    uint64_t now = og_time_ns();
    if (phase == 'c')
        sc->st.pass_start_ns = now;
    if (phase == 'w') {
        sc->st.last_pass_ns = now;
        sc->st.passes++;
    }
    sc->st.phase = phase;
    sc->cursor_len = 0;
    pthread_mutex_unlock(&sc->mu);
}

typedef struct {
    uint8_t ids[SCRUB_CHUNKS_STEP][NODE_ID_LEN];
    size_t n;
} id_list_t;

static int collect_id(void *arg, const uint8_t id[NODE_ID_LEN], uint32_t len)
{
    id_list_t *l = arg;
    memcpy(l->ids[l->n++], id, NODE_ID_LEN);
    return 0;
}

/* Verifies one chunk and counts it; a corrupt copy (quarantined by the store) is logged. */
static void scrub_chunk(node_scrub_t *sc, const uint8_t id[NODE_ID_LEN], uint32_t *len)
{
    *len = 0;
    int rc = node_store_chunk_scrub(sc->store, id, len);
    if (rc == OG_ECORRUPT) {
        char hex[2 * NODE_ID_LEN + 1];
        og_hex(id, NODE_ID_LEN, hex);
        fprintf(stderr, "onggi-node: scrub: corrupt chunk %s on device %s quarantined (node_store.c:%d)\n", hex,
                sc->dev, node_store_corrupt_line(sc->store));
    }
    pthread_mutex_lock(&sc->mu);
    sc->st.chunks_verified += rc == 0;
    sc->st.bytes_verified += *len;
    sc->st.corrupt_found += rc == OG_ECORRUPT;
    memcpy(sc->cursor, id, NODE_ID_LEN);
    sc->cursor_len = NODE_ID_LEN;
    pthread_mutex_unlock(&sc->mu);
}

/* Verifies the next few chunks after the cursor; the record phase follows the last one.
 * 1 when stopping. */
static int scrub_chunks_step(node_scrub_t *sc)
{
    id_list_t *l = malloc(sizeof(*l));
    int truncated = 0, stop = 0;
    if (!l)
        return scrub_wait_until(sc, og_time_ns() + 1000000000ull);
    l->n = 0;
    /* Only the scrubber thread writes the cursor: reading it without mu is safe here. */
    int rc = node_store_chunk_list(sc->store, sc->cursor_len ? (const uint8_t *)sc->cursor : NULL, SCRUB_CHUNKS_STEP,
                                   collect_id, l, &truncated);
    for (size_t i = 0; i < l->n && !stop; i++) {
        uint32_t len;
        scrub_chunk(sc, l->ids[i], &len);
        stop = scrub_pace(sc, 48u + len);
    }
    if (rc == 0 && !truncated && !stop)
        scrub_phase(sc, 'r');
    else if (rc != 0)
        stop = scrub_wait_until(sc, og_time_ns() + 1000000000ull); /* index error: retry later */
    free(l);
    return stop;
}

static int check_rec(void *arg, const char *key, size_t klen, const char *rec, size_t rlen)
{
    node_scrub_t *sc = arg;
    og_rec_t r;
    int bad = og_rec_decode(rec, rlen, &r) != 0;
    if (bad)
        fprintf(stderr, "onggi-node: scrub: undecodable record (%zu bytes) on device %s\n", rlen, sc->dev);
    pthread_mutex_lock(&sc->mu);
    sc->st.records_verified += !bad;
    sc->st.records_bad += bad;
    if (klen <= SCRUB_CURSOR_MAX) {
        memcpy(sc->cursor, key, klen);
        sc->cursor_len = klen;
    }
    pthread_mutex_unlock(&sc->mu);
    sc->paced_bytes += klen + rlen;
    return 0;
}

/* Checks the next records after the cursor; the pass ends after the last one. 1 when stopping. */
static int scrub_recs_step(node_scrub_t *sc)
{
    int done = 0;
    int rc = node_store_rec_walk(sc->store, sc->cursor, sc->cursor_len, SCRUB_RECS_STEP, check_rec, sc, &done);
    if (rc != 0)
        return scrub_wait_until(sc, og_time_ns() + 1000000000ull);
    if (done)
        scrub_phase(sc, 'w');
    return scrub_pace(sc, 0);
}

static void *scrub_main(void *arg)
{
    node_scrub_t *sc = arg;
    int stop = 0;
    sc->pace_start_ns = og_time_ns();
    while (!stop) {
        if (sc->st.phase == 'w') {
            if ((stop = scrub_wait_until(sc, sc->st.pass_start_ns + sc->opts.interval_ns)) != 0)
                break;
            scrub_phase(sc, 'c');
            sc->pace_start_ns = og_time_ns();
            sc->paced_bytes = 0;
        } else if (sc->st.phase == 'c') {
            stop = scrub_chunks_step(sc);
        } else {
            stop = scrub_recs_step(sc);
        }
        scrub_save(sc);
    }
    return NULL;
}

int node_scrub_start(node_store_t *s, const char *dev, const node_scrub_opts_t *o, node_scrub_t **out)
{
    node_scrub_t *sc = calloc(1, sizeof(*sc));
    if (!sc)
        return -ENOMEM;
    sc->store = s;
    sc->dev = dev;
    sc->opts = *o;
    pthread_mutex_init(&sc->mu, NULL);
    pthread_cond_init(&sc->cv, NULL);
    scrub_load(sc);
    if (o->bytes_rate > 0) {
        sc->st.running = 1;
        int rc = pthread_create(&sc->th, NULL, scrub_main, sc);
        if (rc != 0) {
            node_scrub_stop(sc);
            return -rc;
        }
        sc->started = 1;
    }
    *out = sc;
    return 0;
}

void node_scrub_stat(node_scrub_t *sc, node_scrub_stat_t *st)
{
    pthread_mutex_lock(&sc->mu);
    *st = sc->st;
    /* Ids are SHA-256 values, spread evenly: the cursor's first bytes say how far the pass got. */
    if (st->phase != 'c')
        st->chunk_progress = st->phase == 'r' ? 1.0 : 0.0;
    else if (sc->cursor_len == NODE_ID_LEN)
        st->chunk_progress = (double)og_be32_get((const unsigned char *)sc->cursor) / 4294967296.0;
    pthread_mutex_unlock(&sc->mu);
}

void node_scrub_stop(node_scrub_t *sc)
{
    if (!sc)
        return;
    if (sc->started) {
        pthread_mutex_lock(&sc->mu);
        sc->stop = 1;
        pthread_cond_broadcast(&sc->cv);
        pthread_mutex_unlock(&sc->mu);
        pthread_join(sc->th, NULL);
    }
    pthread_cond_destroy(&sc->cv);
    pthread_mutex_destroy(&sc->mu);
    free(sc);
}
