/*
 * core/core_obj.c: the protocol-neutral object layer (core/core.h).
 *
 * Write path. The body is read straight into one batch buffer. Each piece read is hashed once
 * while it is in cache: MD5 of the whole body (the ETag), the optional whole-body SHA-256, and
 * for the chunk in progress its SHA-256 (the id) and xxh3-64, while the FastCDC chunker
 * (og_cdc) looks for the chunk's end. Once a body has brought OBJ_BODY_THREAD_MIN bytes as fast
 * as OBJ_BODY_THREAD_RATE or faster, the whole-body digests run on a second thread (obj_body_t),
 * so one stream uses two cores. Completed chunks stay where they are in the buffer; when
 * it is nearly full (or holds CLUSTER_BATCH_MAX_CHUNKS chunks) they go to the nodes in ONE request per
 * node (cluster_chunk_put_many: one volume sync and one index sync per node for the whole
 * batch, so small chunks cost what one big chunk did), and the unfinished chunk's bytes move to
 * the front. The same big fast body stores its batches on a third thread (the flusher), one
 * batch in flight while the writer reads and hashes the next into a second buffer. The buffer has CLUSTER_BATCH_HDR_MAX spare bytes in front so the batch request's header
 * is built in place and the data goes out without a copy.
 *
 * Chunk sizes come from the cluster handle (cluster_chunking, 8/32/128 KiB by default; the
 * measurements behind them are in docs/architecture.md). Memory per write: the batch buffer
 * (OBJ_BATCH_BYTES, or the expected size + 1 for a smaller body) whatever the body size; two of
 * them for a body with the flusher.
 *
 * Read path. The chunks overlapping the range are fetched OBJ_BATCH_BYTES at a time with
 * cluster_chunk_get_many (one batched request per node, the chunks spread over the replicas:
 * with 32 KiB chunks a chunk-at-a-time loop would be bound by round trips and per-request
 * overhead), then handed to the sink in order. The nodes' answers land in a scratch buffer owned
 * by the read, so a batch allocates nothing.
 *
 * Memory. The per-request buffers of a body past a small size (batch buffer, read buffer and
 * scratch, up to a few MiB each) come from the cluster handle's buffer pool (cluster_buf_get):
 * from malloc, glibc's adaptive mmap threshold soon serves blocks of that size from the worker
 * threads' arenas, which keep the pages after free, and a gateway that served some large GETs
 * stayed at 100-140 MiB RSS; a fresh mapping per request instead costs its page faults every
 * time (~0.5 ms per 2 MiB: 1 MiB GETs fell from ~2.8 to ~1.2 GiB/s). Pooled buffers are reused
 * with their pages in place, and the pool keeps only a few idle.
 */
#include "core.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <xxhash.h>

#include "og_cdc.h"
#include "og_crypt.h"

/* Data bytes per batch: a node request of this size costs about what one 4 MiB chunk used to. */
#define OBJ_BATCH_BYTES (4u << 20)
/* Objects up to this size are read through request coalescing (core_obj_read). */
#define OBJ_COALESCE_MAX (4u << 20)
/* A read from the source asks for at most this much: the HTTP loop fills it while the writer
 * waits, and wakes it per 64 KiB at the least (http.h). */
#define OBJ_READ_PIECE (1u << 20)
/* Flush the batch when less room than this is left for the next read. */
#define OBJ_READ_MIN (64u << 10)
/* After a flush by age, the pages of this much room past what the buffer still holds stay: the next
 * read's OBJ_READ_MIN and what such a read brings beyond it. A read returns once the HTTP loop has
 * put 64 KiB in (http.h), with the rest of the socket read that crossed that mark and the bytes that
 * came before the handler ran. 2,000 slow uploads, page faults a second on the loop thread with
 * 64 KiB kept: ~3,600; 96 KiB: ~800; 128 KiB: 650-1,000 (docs/benchmarks.md, "Room for what a read
 * brings"). */
#define OBJ_KEEP_ROOM (96u << 10)
/* ... or when its completed chunks have waited this long: a slow upload (a camera sending 32 KB/s
 * fills 4 MiB in two minutes) then holds seconds of data, not a whole batch. */
#define OBJ_FLUSH_AGE_MS 2000
/* Chunk reads per cluster_chunk_get_many call (one request per node for all of them). */
#define OBJ_READ_BATCH 128
/* Buffers at least this big come from the pool (see "Memory" above); smaller ones from malloc. */
#define OBJ_POOL_MIN (256u << 10)
/* A body that brought this many bytes, as fast as this or faster (bytes per ms of waiting for
 * them: 32 MiB/s), gets its whole-body digests on a second thread (writer_maybe_thread). */
#define OBJ_BODY_THREAD_MIN (8u << 20)
#define OBJ_BODY_THREAD_RATE ((32u << 20) / 1000)
/* That thread's stack: EVP digest updates need a few KiB. (The flusher's, which runs node calls
 * as deep as a worker's, is the default: only touched pages cost memory.) */
#define OBJ_BODY_STACK (256u << 10)

/* A per-request buffer of len bytes. NULL on failure. Free with obj_buf_free and the same len. */
static void *obj_buf_alloc(cluster_t *cl, size_t len)
{
    return len >= OBJ_POOL_MIN ? cluster_buf_get(cl, len) : malloc(len);
}

static void obj_buf_free(cluster_t *cl, void *p, size_t len)
{
    if (len >= OBJ_POOL_MIN)
        cluster_buf_put(cl, p, len);
    else
        free(p);
}

void core_table(char kind, const char *bucket, char out[CORE_TABLE_CAP])
{
    size_t n = strlen(bucket), safe = 1;
    out[0] = '\0';
    if (n > CORE_BID_LEN)
        return;
    for (size_t i = 0; i < n && safe; i++) {
        char c = bucket[i];
        safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
               c == '-';
    }
    out[0] = kind, out[1] = '.';
    if (safe) {
        memcpy(out + 2, bucket, n + 1);
        return;
    }
    og_hex(bucket, n, out + 2);
    memset(out + 2 + 2 * n, '-', 128 - 2 * n);
    out[2 + 128] = '\0';
}

/* ---------------------------------------------------------------- write */

/* A helper thread with a one-job mailbox: the writer posts a job (its fields set while the helper
 * is idle, i.e. after helper_wait) and goes on; helper_wait waits until the job is done. Jobs run
 * in the order posted, one at a time; a job posted before helper_stop still runs. */
typedef struct {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;        /* a job posted, a job done, or stop */
    int (*run)(void *job);    /* does the posted job: 0 or an error code */
    void *job;
    int posted, threaded, stop;
    int rc; /* the first failed job's */
} obj_helper_t;

static void *helper_main(void *arg)
{
    obj_helper_t *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!h->posted && !h->stop)
            pthread_cond_wait(&h->cv, &h->mu);
        if (!h->posted)
            break; /* stop, nothing left */
        pthread_mutex_unlock(&h->mu);
        int rc = h->run(h->job);
        pthread_mutex_lock(&h->mu);
        if (h->rc == 0)
            h->rc = rc;
        h->posted = 0;
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* Starts the thread, named name (top -H, perf), with stack bytes of stack (0: the default). Returns nothing:
 * h->threaded says whether it runs; without it the caller does the work itself. */
static void helper_start(obj_helper_t *h, int (*run)(void *job), void *job, const char *name, size_t stack)
{
    pthread_attr_t attr;
    h->run = run, h->job = job;
    if (pthread_attr_init(&attr) != 0)
        return;
    if (pthread_mutex_init(&h->mu, NULL) == 0) {
        if (pthread_cond_init(&h->cv, NULL) == 0) {
            if ((stack == 0 || pthread_attr_setstacksize(&attr, stack) == 0) &&
                pthread_create(&h->th, &attr, helper_main, h) == 0) {
                pthread_setname_np(h->th, name); /* a failure changes nothing */
                h->threaded = 1;
                goto out_attr;
            }
            pthread_cond_destroy(&h->cv);
        }
        pthread_mutex_destroy(&h->mu);
    }
out_attr:
    pthread_attr_destroy(&attr);
}

/* Waits until the posted job, if any, is done. 0, or the first failed job's error. */
static int helper_wait(obj_helper_t *h)
{
    if (!h->threaded)
        return 0;
    pthread_mutex_lock(&h->mu);
    while (h->posted)
        pthread_cond_wait(&h->cv, &h->mu);
    int rc = h->rc;
    pthread_mutex_unlock(&h->mu);
    return rc;
}

/* Posts the job whose fields the caller set (the helper idle: after helper_wait). */
static void helper_post(obj_helper_t *h)
{
    pthread_mutex_lock(&h->mu);
    h->posted = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* Stops the thread once its job, if any, is done. */
static void helper_stop(obj_helper_t *h)
{
    if (!h->threaded)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->th, NULL);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    h->threaded = 0;
}

/* The whole-body digests (MD5 for the ETag, SHA-256 when asked), run on a helper thread for a big
 * body: one core alone hashes MD5 + SHA-256 + xxh3 + FastCDC at ~300 MiB/s, so a single stream
 * was bound by one core while the other idled. The writer posts each piece it read (one at a time)
 * and goes on with the chunk hashes; the piece stays where it is in the batch buffer until
 * body_drain says the thread is done with it (before the buffer's bytes move, and at the end).
 * Without the thread (a small or slow body, or pthread_create failed) body_feed hashes at once. */
typedef struct {
    EVP_MD_CTX *md5, *sha; /* sha NULL unless CORE_OBJ_SHA256 */
    obj_helper_t th;
    const char *piece; /* the job: bytes to hash */
    size_t len;
    int tried;
} obj_body_t;

static int body_hash(obj_body_t *b, const char *p, size_t n)
{
    return EVP_DigestUpdate(b->md5, p, n) && (!b->sha || EVP_DigestUpdate(b->sha, p, n)) ? 0 : -ENOMEM;
}

static int body_run(void *job)
{
    obj_body_t *b = job;
    return body_hash(b, b->piece, b->len);
}

/* Waits until the thread is done with every piece posted. 0, or -ENOMEM when a digest failed. */
static int body_drain(obj_body_t *b) { return helper_wait(&b->th); }

/* Hashes p[0, n) into the body digests, or posts it to the thread (p must stay put until
 * body_drain). 0 or -ENOMEM. */
static int body_feed(obj_body_t *b, const char *p, size_t n)
{
    if (!b->th.threaded)
        return body_hash(b, p, n);
    int rc = helper_wait(&b->th);
    if (rc != 0)
        return rc;
    b->piece = p, b->len = n;
    helper_post(&b->th);
    return 0;
}

/* Stops the thread (after the piece in progress) and frees the digests. */
static void body_free(obj_body_t *b)
{
    helper_stop(&b->th);
    EVP_MD_CTX_free(b->md5);
    EVP_MD_CTX_free(b->sha);
}

typedef struct {
    cluster_t *cl;
    obj_body_t body;
    EVP_MD_CTX *sha_chunk;
    XXH3_state_t *xxh;
    og_cdc_t cdc;
    char *mem;        /* CLUSTER_BATCH_HDR_MAX header room + cap data bytes */
    char *data;       /* mem + CLUSTER_BATCH_HDR_MAX */
    size_t cap, fill; /* data bytes available / read into data */
    size_t scanned;   /* bytes of data the chunker has seen */
    size_t cstart;    /* start of the chunk in progress within data */
    /* CLUSTER_BATCH_MAX_CHUNKS headers, allocated at the first cut: on the stack (11 KiB, zeroed
     * with the writer) they stayed resident in every worker's stack, 2,000 slow uploads' worth. */
    cluster_chunk_hdr_t *hdrs;
    size_t nb; /* completed chunks in data[0, cstart) */
    uint64_t read_ns;    /* time spent waiting in src.read, until the body thread is settled */
    uint64_t flushed_ms; /* og_mono_ms() of the last flush (or the start) */
    size_t hiwater;      /* data bytes whose pages may be resident: most held, or kept, since the last trim */
    core_chunk_ref_t *refs;
    size_t nrefs, cap_refs;
    /* with a key: completed chunks are boxed into box (its own CLUSTER_BATCH_HDR_MAX header room
     * in front), which is what flushes send; the plaintext in data is not hashed */
    const uint8_t *key;
    char *bmem, *box;
    size_t bcap, bfill;
    /* A big fast body without a key is flushed on a helper thread (writer_flush_async): the batch
     * in flight, fl_nb chunks, is in the second buffer mem2 with its headers hdrs2 (the job); the
     * writer fills mem and hdrs meanwhile. */
    obj_helper_t flusher;
    char *mem2;
    cluster_chunk_hdr_t *hdrs2;
    size_t fl_nb;
} obj_writer_t;

static void writer_free(obj_writer_t *w)
{
    /* The helpers first: they may still read the buffers. */
    body_free(&w->body);
    helper_stop(&w->flusher);
    if (w->mem2)
        obj_buf_free(w->cl, w->mem2, CLUSTER_BATCH_HDR_MAX + w->cap);
    free(w->hdrs2);
    EVP_MD_CTX_free(w->sha_chunk);
    if (w->xxh)
        XXH3_freeState(w->xxh);
    obj_buf_free(w->cl, w->mem, CLUSTER_BATCH_HDR_MAX + w->cap);
    if (w->bmem)
        obj_buf_free(w->cl, w->bmem, CLUSTER_BATCH_HDR_MAX + w->bcap);
    free(w->refs);
    free(w->hdrs);
}

static int writer_init(obj_writer_t *w, cluster_t *cl, const core_obj_put_opts_t *opts)
{
    uint32_t min, avg, max;
    memset(w, 0, sizeof(*w));
    w->cl = cl;
    w->flushed_ms = og_mono_ms();
    cluster_chunking(cl, &min, &avg, &max);
    if (og_cdc_init(&w->cdc, min, avg, max) != 0)
        return OG_EINVAL;
    /* Room for whole chunks plus a chunk in progress; a body known to be smaller needs only its
     * size + 1 (the spare byte lets the final read see the end). */
    w->cap = OBJ_BATCH_BYTES > 2 * (size_t)max ? OBJ_BATCH_BYTES : 2 * (size_t)max;
    if (opts->expect_size >= 0 && (uint64_t)opts->expect_size < w->cap)
        w->cap = (size_t)opts->expect_size + 1;
    if (!(w->mem = obj_buf_alloc(cl, CLUSTER_BATCH_HDR_MAX + w->cap)))
        return -ENOMEM;
    w->hiwater = w->cap; /* a pooled buffer may come with all its pages resident */
    w->data = w->mem + CLUSTER_BATCH_HDR_MAX;
    if ((w->key = opts->key) != NULL) {
        w->bcap = w->cap + CLUSTER_BATCH_MAX_CHUNKS * OG_BOX_OVERHEAD;
        if (!(w->bmem = obj_buf_alloc(cl, CLUSTER_BATCH_HDR_MAX + w->bcap)))
            return -ENOMEM;
        w->box = w->bmem + CLUSTER_BATCH_HDR_MAX;
    }
    if (!(w->body.md5 = EVP_MD_CTX_new()) || !(w->sha_chunk = EVP_MD_CTX_new()) || !(w->xxh = XXH3_createState()) ||
        ((opts->digests & CORE_OBJ_SHA256) && !(w->body.sha = EVP_MD_CTX_new())))
        return -ENOMEM;
    if (!EVP_DigestInit_ex(w->body.md5, EVP_md5(), NULL) || !EVP_DigestInit_ex(w->sha_chunk, EVP_sha256(), NULL) ||
        (w->body.sha && !EVP_DigestInit_ex(w->body.sha, EVP_sha256(), NULL)) || XXH3_64bits_reset(w->xxh) != XXH_OK)
        return -ENOMEM;
    return 0;
}

/* Reads the next piece of the body, timing the wait until the body thread is settled. */
static ssize_t writer_read(obj_writer_t *w, core_obj_src_t src, size_t want)
{
    if (w->body.tried)
        return src.read(src.ctx, w->data + w->fill, want);
    uint64_t t0 = og_mono_ns();
    ssize_t got = src.read(src.ctx, w->data + w->fill, want);
    w->read_ns += og_mono_ns() - t0;
    return got;
}

/* The flusher's job: store the batch in flight (see obj_writer_t). */
static int flush_run(void *job)
{
    obj_writer_t *w = job;
    return cluster_chunk_put_many(w->cl, w->hdrs2, w->fl_nb, w->mem2 + CLUSTER_BATCH_HDR_MAX);
}

/* Starts the flusher with its second batch buffer, for a body without a key (a boxed batch is
 * built in its own box buffer, which would need a second one too; sealed writes stay serial).
 * Returns nothing: without it, writer_flush stores batches itself. */
static void writer_start_flusher(obj_writer_t *w)
{
    if (w->key != NULL)
        return;
    if (!w->hdrs && !(w->hdrs = malloc(CLUSTER_BATCH_MAX_CHUNKS * sizeof(*w->hdrs))))
        return;
    if (!(w->hdrs2 = malloc(CLUSTER_BATCH_MAX_CHUNKS * sizeof(*w->hdrs2))) ||
        !(w->mem2 = obj_buf_alloc(w->cl, CLUSTER_BATCH_HDR_MAX + w->cap)))
        return; /* writer_free frees what was allocated */
    helper_start(&w->flusher, flush_run, w, "og-flush", 0);
}

/* Starts the body thread (once) for a body that proved big and fast: OBJ_BODY_THREAD_MIN bytes
 * so far, delivered at OBJ_BODY_THREAD_RATE or faster while the writer waited for them (the
 * client's pace, not the nodes'). Before, every body that might be big got one (any chunked body,
 * any Content-Length from 8 MiB): a slow upload (a camera's 32 KB/s for hours), whose digests
 * take a sliver of a core, then cost a second thread and a hand-over per piece (1,000 chunked
 * slow uploads ran 2,004 gateway threads). The same body gets the flusher (writer_flush_async):
 * a single 256 MiB stream's writer spent 2.0 of its 3.0 s waiting for the nodes to store its
 * batches (0.36 s reading, 0.38 s chunk hashes), and now reads and hashes the next batch meanwhile. */
static void writer_maybe_thread(obj_writer_t *w, uint64_t total)
{
    if (w->body.tried || total < OBJ_BODY_THREAD_MIN || total / (w->read_ns / 1000000u + 1) < OBJ_BODY_THREAD_RATE)
        return;
    w->body.tried = 1;
    helper_start(&w->body.th, body_run, &w->body, "og-body", OBJ_BODY_STACK);
    writer_start_flusher(w);
}

/* Boxes data[cstart, end) into box (see obj_writer_t) and hashes the box into h. */
static int writer_box(obj_writer_t *w, size_t end, cluster_chunk_hdr_t *h)
{
    size_t n = end - w->cstart;
    char *b = w->box + w->bfill;
    unsigned int dlen;
    if (og_box(w->key, (og_str_t){NULL, 0}, w->data + w->cstart, n, b) != 0)
        return OG_EINVAL;
    n += OG_BOX_OVERHEAD;
    if (!EVP_Digest(b, n, h->id, &dlen, EVP_sha256(), NULL))
        return -ENOMEM;
    h->xxh3 = XXH3_64bits(b, n);
    h->len = (uint32_t)n;
    w->bfill += n;
    return 0;
}

/* Ends the chunk in progress at data[end]: finishes its hashes (or boxes it) into a new batch
 * header. */
static int writer_cut(obj_writer_t *w, size_t end)
{
    unsigned int dlen;
    if (!w->hdrs && !(w->hdrs = malloc(CLUSTER_BATCH_MAX_CHUNKS * sizeof(*w->hdrs))))
        return -ENOMEM;
    cluster_chunk_hdr_t *h = &w->hdrs[w->nb];
    if (w->key != NULL) {
        int rc = writer_box(w, end, h);
        if (rc != 0)
            return rc;
        w->nb++;
        w->cstart = end;
        return 0;
    }
    if (!EVP_DigestFinal_ex(w->sha_chunk, h->id, &dlen) || !EVP_DigestInit_ex(w->sha_chunk, EVP_sha256(), NULL))
        return -ENOMEM;
    h->xxh3 = XXH3_64bits_digest(w->xxh);
    if (XXH3_64bits_reset(w->xxh) != XXH_OK)
        return -ENOMEM;
    h->len = (uint32_t)(end - w->cstart);
    w->nb++;
    w->cstart = end;
    return 0;
}

/* Appends the references of n stored chunks. 0 or -ENOMEM. */
static int writer_refs_add(obj_writer_t *w, const cluster_chunk_hdr_t *hdrs, size_t n)
{
    if (w->nrefs + n > w->cap_refs) {
        size_t ncap = w->cap_refs ? w->cap_refs : 64;
        while (ncap < w->nrefs + n)
            ncap *= 2;
        core_chunk_ref_t *r = realloc(w->refs, ncap * sizeof(*r));
        if (!r)
            return -ENOMEM;
        w->refs = r;
        w->cap_refs = ncap;
    }
    for (size_t i = 0; i < n; i++) {
        core_chunk_ref_t *r = &w->refs[w->nrefs++];
        memcpy(r->id, hdrs[i].id, 32);
        r->len = hdrs[i].len;
        r->xxh3 = hdrs[i].xxh3;
    }
    return 0;
}

/* After a flush: the chunk in progress, now at the front of data, is all the buffer holds. */
static void writer_rebase(obj_writer_t *w)
{
    w->fill -= w->cstart;
    w->scanned -= w->cstart;
    w->cstart = 0;
    w->nb = 0;
    w->flushed_ms = og_mono_ms();
}

/* Waits until the flusher stored the batch in flight, if any, and appends its references.
 * 0, OG_EQUORUM, -ENOMEM. */
static int writer_settle(obj_writer_t *w)
{
    int rc = helper_wait(&w->flusher);
    if (rc == 0 && w->fl_nb > 0)
        rc = writer_refs_add(w, w->hdrs2, w->fl_nb);
    w->fl_nb = 0;
    return rc;
}

/* writer_flush with the flusher: once the batch before is stored, the buffer and its headers
 * become the batch in flight, and the chunk in progress is copied to the front of the other
 * buffer, which the writer goes on filling. 0, OG_EQUORUM, -ENOMEM. */
static int writer_flush_async(obj_writer_t *w)
{
    int rc = writer_settle(w);
    /* The body thread may still be hashing a piece of the other buffer, which the copy overwrites. */
    if (rc != 0 || (rc = body_drain(&w->body)) != 0)
        return rc;
    char *mem = w->mem2;
    cluster_chunk_hdr_t *hdrs = w->hdrs2;
    memcpy(mem + CLUSTER_BATCH_HDR_MAX, w->data + w->cstart, w->fill - w->cstart);
    w->mem2 = w->mem, w->hdrs2 = w->hdrs, w->fl_nb = w->nb;
    helper_post(&w->flusher);
    w->mem = mem, w->data = mem + CLUSTER_BATCH_HDR_MAX, w->hdrs = hdrs;
    writer_rebase(w);
    return 0;
}

/* Stores the completed chunks, appends their references and moves the chunk in progress to the
 * front of the buffer (with the flusher: starts storing them, writer_flush_async). 0, OG_EQUORUM,
 * -ENOMEM. */
static int writer_flush(obj_writer_t *w)
{
    int rc;
    if (w->nb == 0)
        return 0;
    if (w->flusher.threaded)
        return writer_flush_async(w);
    if ((rc = cluster_chunk_put_many(w->cl, w->hdrs, w->nb, w->key ? w->box : w->data)) != 0)
        return rc;
    w->bfill = 0;
    if ((rc = writer_refs_add(w, w->hdrs, w->nb)) != 0)
        return rc;
    /* The body thread may still be reading the last piece, which the move overwrites. */
    if ((rc = body_drain(&w->body)) != 0)
        return rc;
    memmove(w->data, w->data + w->cstart, w->fill - w->cstart);
    writer_rebase(w);
    return 0;
}

/* The time-based flush (OBJ_FLUSH_AGE_MS) and, when the batch buffers once held more than they
 * will need, the return of those pages (cluster_buf_trim), so a slow upload's memory follows its
 * data rather than its high-water mark. The next read's room (OBJ_KEEP_ROOM past what the buffer
 * still holds) stays: the loop thread receives the body into it, and every page it found given
 * back was a page fault on that one thread, which moves every connection's bytes (2,000 slow
 * uploads: ~1M faults a minute, a third of the loop's CPU; docs/benchmarks.md). Only for pooled
 * buffers: malloc'd ones are small. */
static int writer_flush_aged(obj_writer_t *w)
{
    int rc = writer_flush(w);
    size_t keep = w->cap - w->fill < OBJ_KEEP_ROOM ? w->cap : w->fill + OBJ_KEEP_ROOM;
    if (rc != 0 || w->hiwater <= keep || CLUSTER_BATCH_HDR_MAX + w->cap < OBJ_POOL_MIN)
        return rc;
    cluster_buf_trim(w->mem, CLUSTER_BATCH_HDR_MAX + w->cap, CLUSTER_BATCH_HDR_MAX + keep);
    if (w->bmem != NULL)
        cluster_buf_trim(w->bmem, CLUSTER_BATCH_HDR_MAX + w->bcap, CLUSTER_BATCH_HDR_MAX);
    w->hiwater = keep;
    return 0;
}

/* Chunks the bytes read but not yet scanned, data[scanned, fill), updating the chunk's hashes.
 * A piece may end several chunks: the batch is flushed whenever it holds CLUSTER_BATCH_MAX_CHUNKS.
 * 0, OG_EQUORUM or -ENOMEM. */
static int writer_scan(obj_writer_t *w)
{
    int rc;
    while (w->scanned < w->fill) {
        if (w->nb == CLUSTER_BATCH_MAX_CHUNKS && (rc = writer_flush(w)) != 0)
            return rc;
        const char *p = w->data + w->scanned;
        int boundary;
        size_t used = og_cdc_scan(&w->cdc, p, w->fill - w->scanned, &boundary);
        if (!w->key && (!EVP_DigestUpdate(w->sha_chunk, p, used) || XXH3_64bits_update(w->xxh, p, used) != XXH_OK))
            return -ENOMEM;
        w->scanned += used;
        if (boundary && (rc = writer_cut(w, w->scanned)) != 0)
            return rc;
    }
    return 0;
}

/* The whole body, data[0, n), as out's inline bytes (boxed with a key). 0, -ENOMEM, OG_EINVAL. */
static int writer_inline(obj_writer_t *w, size_t n, core_obj_data_t *out)
{
    size_t len = n + (w->key ? OG_BOX_OVERHEAD : 0);
    if (!(out->inline_data = malloc(len ? len : 1)))
        return -ENOMEM;
    out->inline_len = len;
    if (w->key)
        return og_box(w->key, (og_str_t){NULL, 0}, w->data, n, out->inline_data);
    memcpy(out->inline_data, w->data, n);
    return 0;
}

/* Whether the buffer has too little room left for the next read (OBJ_READ_MIN) while the body may
 * bring more than that room. A buffer sized for a body of known size always has room for the rest:
 * flushing it for room cost a body of up to 4 MiB (a 1 MiB object, a 64 KiB one) a second batch
 * request, and each node a second write and two more syncs. */
static int writer_short_of_room(const obj_writer_t *w, const core_obj_put_opts_t *opts, uint64_t total)
{
    size_t room = w->cap - w->fill;
    return room < OBJ_READ_MIN && (opts->expect_size < 0 || (uint64_t)opts->expect_size - total >= room);
}

int core_obj_write(cluster_t *cl, const core_obj_put_opts_t *opts, core_obj_src_t src, core_obj_data_t *out)
{
    obj_writer_t w;
    uint64_t total = 0;
    unsigned int dlen;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = writer_init(&w, cl, opts)) != 0)
        goto out_free;
    for (;;) {
        /* Never while the body may still be inline: its bytes must stay at the front. */
        if (total > CORE_INLINE_MAX && writer_short_of_room(&w, opts, total) && w.nb > 0 &&
            (rc = writer_flush(&w)) != 0)
            goto out_free;
        if (total > CORE_INLINE_MAX && w.nb > 0 && og_mono_ms() - w.flushed_ms >= OBJ_FLUSH_AGE_MS &&
            (rc = writer_flush_aged(&w)) != 0)
            goto out_free;
        if (w.fill == w.cap) {
            /* Only a body longer than expect_size fills a buffer sized for it. */
            rc = OG_EPROTO;
            goto out_free;
        }
        size_t want = w.cap - w.fill < OBJ_READ_PIECE ? w.cap - w.fill : OBJ_READ_PIECE;
        ssize_t got = writer_read(&w, src, want);
        if (got < 0) {
            rc = (int)got;
            goto out_free;
        }
        if (got == 0)
            break;
        total += (uint64_t)got;
        if (total > opts->max_size) {
            rc = OG_ETOOBIG;
            goto out_free;
        }
        if (opts->expect_size >= 0 && total > (uint64_t)opts->expect_size) {
            rc = OG_EPROTO;
            goto out_free;
        }
        writer_maybe_thread(&w, total);
        if ((rc = body_feed(&w.body, w.data + w.fill, (size_t)got)) != 0)
            goto out_free;
        w.fill += (size_t)got;
        w.hiwater = w.fill > w.hiwater ? w.fill : w.hiwater;
        if ((rc = writer_scan(&w)) != 0)
            goto out_free;
    }
    if (opts->expect_size >= 0 && total != (uint64_t)opts->expect_size) {
        rc = OG_EPROTO;
        goto out_free;
    }
    if ((rc = body_drain(&w.body)) != 0)
        goto out_free;
    if (!EVP_DigestFinal_ex(w.body.md5, out->md5, &dlen) ||
        (w.body.sha && !EVP_DigestFinal_ex(w.body.sha, out->sha256, &dlen))) {
        rc = -ENOMEM;
        goto out_free;
    }
    out->size = total;
    if (total <= CORE_INLINE_MAX) {
        /* Small bodies live in the record; cuts the chunker may have made are dropped (nothing
         * was flushed: flushes wait until the body is past CORE_INLINE_MAX, and a batch cannot hold
         * CLUSTER_BATCH_MAX_CHUNKS chunks of at least 4 KiB within it). */
        rc = writer_inline(&w, (size_t)total, out);
        goto out_free;
    }
    if (w.fill > w.cstart && (rc = writer_cut(&w, w.fill)) != 0)
        goto out_free;
    if ((rc = writer_flush(&w)) != 0 || (rc = writer_settle(&w)) != 0)
        goto out_free;
    out->chunks = w.refs;
    out->num_chunks = w.nrefs;
    w.refs = NULL;
out_free:
    writer_free(&w);
    if (rc != 0)
        core_obj_data_free(out);
    return rc;
}

void core_obj_data_free(core_obj_data_t *d)
{
    free(d->chunks);
    free(d->inline_data);
    d->chunks = NULL;
    d->inline_data = NULL;
    d->num_chunks = d->inline_len = 0;
}

/* ---------------------------------------------------------------- read */

/* Bytes [first, last] of a plain chunked object (m checked by core_obj_read_key). */
static int obj_read_plain(cluster_t *cl, const core_meta_t *m, uint64_t first, uint64_t last, size_t biggest,
                          core_obj_sink_fn sink, void *ctx)
{
    cluster_chunk_read_t rd[OBJ_READ_BATCH];
    uint64_t off = 0;
    size_t nrd = 0, used = 0, cap, scap;
    char *buf, *scratch;
    int rc = 0;

    cap = OBJ_BATCH_BYTES > biggest ? OBJ_BATCH_BYTES : biggest;
    if (last - first + 1 < cap)
        cap = (size_t)(last - first + 1);
    /* A batch holds at most cap range bytes plus, at its two ends, the rest of a partly read chunk
     * (the nodes always send whole chunks). */
    scap = CLUSTER_READ_SCRATCH(OBJ_READ_BATCH, cap + 2 * biggest);
    buf = obj_buf_alloc(cl, cap);
    scratch = obj_buf_alloc(cl, scap);
    if (!buf || !scratch) {
        rc = -ENOMEM;
        goto out_free_buf;
    }
    for (size_t i = 0; i < m->num_chunks && off <= last; off += m->chunks[i].len, i++) {
        const core_chunk_ref_t *c = &m->chunks[i];
        uint64_t lo = first > off ? first : off, end = off + c->len;
        uint64_t hi = last + 1 < end ? last + 1 : end;
        if (hi <= lo)
            continue;
        size_t len = (size_t)(hi - lo);
        if (nrd == OBJ_READ_BATCH || used + len > cap) {
            if ((rc = cluster_chunk_get_many(cl, rd, nrd, scratch, scap)) != 0 || (rc = sink(ctx, buf, used)) != 0)
                goto out_free_buf;
            nrd = 0, used = 0;
        }
        rd[nrd++] = (cluster_chunk_read_t){.id = c->id, .xxh3 = c->xxh3, .chunk_len = c->len, .off = (size_t)(lo - off),
                                      .len = len, .buf = buf + used};
        used += len;
    }
    if (nrd > 0 && (rc = cluster_chunk_get_many(cl, rd, nrd, scratch, scap)) == 0)
        rc = sink(ctx, buf, used);
out_free_buf:
    obj_buf_free(cl, scratch, scap);
    obj_buf_free(cl, buf, cap);
    return rc;
}

/* One boxed chunk of a sealed read batch: where its box sits in the buffer, and which of its
 * plaintext bytes the range wants. */
typedef struct {
    size_t at, box_len, skip, len;
} sealed_piece_t;

/* Opens the boxes of a batch in place and moves the wanted plaintext bytes together at the front
 * of buf (each piece starts at or after where its bytes go). The bytes ready, or OG_ECORRUPT. */
static long sealed_open(const uint8_t *key, char *buf, const sealed_piece_t *p, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (og_box_open(key, (og_str_t){NULL, 0}, buf + p[i].at, p[i].box_len, buf + p[i].at) != 0)
            return OG_ECORRUPT;
        memmove(buf + out, buf + p[i].at + p[i].skip, p[i].len);
        out += p[i].len;
    }
    return (long)out;
}

/* Reads the batch rd[0..n) of whole boxes, opens them and hands their wanted bytes to sink. */
static int sealed_batch(cluster_t *cl, const uint8_t *key, cluster_chunk_read_t *rd, const sealed_piece_t *p,
                        size_t n, char *buf, char *scratch, size_t scap, core_obj_sink_fn sink, void *ctx)
{
    int rc = cluster_chunk_get_many(cl, rd, n, scratch, scap);
    if (rc != 0)
        return rc;
    long got = sealed_open(key, buf, p, n);
    return got < 0 ? (int)got : sink(ctx, buf, (size_t)got);
}

/* Bytes [first, last] of an encrypted chunked object: every box overlapping the range is read
 * whole (a box only opens whole), OBJ_BATCH_BYTES of boxes at a time. */
static int obj_read_sealed(cluster_t *cl, const core_meta_t *m, const uint8_t *key, uint64_t first, uint64_t last,
                           size_t biggest, core_obj_sink_fn sink, void *ctx)
{
    cluster_chunk_read_t rd[OBJ_READ_BATCH];
    sealed_piece_t pc[OBJ_READ_BATCH];
    uint64_t off = 0;
    size_t nrd = 0, used = 0, cap = OBJ_BATCH_BYTES > biggest ? OBJ_BATCH_BYTES : biggest;
    size_t scap = CLUSTER_READ_SCRATCH(OBJ_READ_BATCH, cap + biggest);
    char *buf = obj_buf_alloc(cl, cap), *scratch = obj_buf_alloc(cl, scap);
    int rc = 0;

    if (!buf || !scratch) {
        rc = -ENOMEM;
        goto out_free_buf;
    }
    for (size_t i = 0; i < m->num_chunks && off <= last; off += m->chunks[i].len - OG_BOX_OVERHEAD, i++) {
        const core_chunk_ref_t *c = &m->chunks[i];
        uint64_t lo = first > off ? first : off, end = off + c->len - OG_BOX_OVERHEAD;
        uint64_t hi = last + 1 < end ? last + 1 : end;
        if (hi <= lo)
            continue;
        if (nrd == OBJ_READ_BATCH || used + c->len > cap) {
            if ((rc = sealed_batch(cl, key, rd, pc, nrd, buf, scratch, scap, sink, ctx)) != 0)
                goto out_free_buf;
            nrd = 0, used = 0;
        }
        pc[nrd] = (sealed_piece_t){.at = used, .box_len = c->len, .skip = (size_t)(lo - off), .len = (size_t)(hi - lo)};
        rd[nrd++] = (cluster_chunk_read_t){.id = c->id, .xxh3 = c->xxh3, .chunk_len = c->len, .off = 0,
                                           .len = c->len, .buf = buf + used};
        used += c->len;
    }
    if (nrd > 0)
        rc = sealed_batch(cl, key, rd, pc, nrd, buf, scratch, scap, sink, ctx);
out_free_buf:
    obj_buf_free(cl, scratch, scap);
    obj_buf_free(cl, buf, cap);
    return rc;
}

/* Bytes [first, last] of an inline body (boxed with a key). */
static int obj_read_inline(const core_meta_t *m, const uint8_t *key, uint64_t first, uint64_t last,
                           core_obj_sink_fn sink, void *ctx)
{
    size_t n = (size_t)(last - first + 1);
    if (key == NULL)
        return m->inline_data.len != m->size ? OG_ECORRUPT : sink(ctx, m->inline_data.base + first, n);
    if (m->inline_data.len != m->size + OG_BOX_OVERHEAD)
        return OG_ECORRUPT;
    char *plain = malloc(m->inline_data.len);
    if (plain == NULL)
        return -ENOMEM;
    int rc = og_box_open(key, (og_str_t){NULL, 0}, (void *)m->inline_data.base, m->inline_data.len, plain);
    if (rc == 0)
        rc = sink(ctx, plain + first, n);
    else
        rc = OG_ECORRUPT;
    free(plain);
    return rc;
}

int core_obj_read_key(cluster_t *cl, const core_meta_t *m, const uint8_t *key, uint64_t first, uint64_t last,
                      core_obj_sink_fn sink, void *ctx)
{
    uint64_t sum = 0;
    size_t biggest = 0, per = key ? OG_BOX_OVERHEAD : 0;

    if ((m->flags & CORE_META_SSE) && key == NULL)
        return -EACCES;
    if (!(m->flags & CORE_META_SSE))
        key = NULL, per = 0;
    if (m->size == 0)
        return 0;
    if (first > last || last >= m->size)
        return OG_EINVAL;
    if (m->num_chunks == 0)
        return obj_read_inline(m, key, first, last, sink, ctx);
    for (size_t i = 0; i < m->num_chunks; i++) {
        if (m->chunks[i].len < per)
            return OG_ECORRUPT;
        sum += m->chunks[i].len - per;
        biggest = m->chunks[i].len > biggest ? m->chunks[i].len : biggest;
    }
    if (sum != m->size)
        return OG_ECORRUPT; /* the chunk list cannot produce the promised bytes */
    if (key != NULL)
        return obj_read_sealed(cl, m, key, first, last, biggest, sink, ctx);
    return obj_read_plain(cl, m, first, last, biggest, sink, ctx);
}

/* One coalesced read (cluster_coalesce): what obj_fill reads, and where it writes. */
typedef struct {
    cluster_t *cl;
    const core_meta_t *m;
    uint64_t first, last;
    char *buf;
    size_t cap, len;
} obj_fill_t;

static int obj_fill_sink(void *ctx, const void *buf, size_t len)
{
    obj_fill_t *f = ctx;
    if (len > f->cap - f->len)
        return OG_ECORRUPT; /* more bytes than the range: the sizes were checked, so never */
    memcpy(f->buf + f->len, buf, len);
    f->len += len;
    return 0;
}

static int obj_fill(void *ctx, char *buf, size_t cap, size_t *len)
{
    obj_fill_t *f = ctx;
    f->buf = buf, f->cap = cap, f->len = 0;
    int rc = core_obj_read_key(f->cl, f->m, NULL, f->first, f->last, obj_fill_sink, f);
    *len = f->len;
    return rc;
}

/* The coalescing key of a read: the range and the content addresses of every chunk, so equal keys
 * are equal bytes whatever object or bucket they belong to (and an overwritten object has another
 * key). malloc'd into *key; 0 or -ENOMEM. */
static int obj_fill_key(const core_meta_t *m, uint64_t first, uint64_t last, og_str_t *key)
{
    size_t n = 17 + 32 * m->num_chunks;
    char *k = malloc(n);
    if (!k)
        return -ENOMEM;
    k[0] = 'b'; /* bytes: record flights start with 'r' (cluster_rec_get_shared) */
    og_be64_put((uint8_t *)k + 1, first);
    og_be64_put((uint8_t *)k + 9, last);
    for (size_t i = 0; i < m->num_chunks; i++)
        memcpy(k + 17 + 32 * i, m->chunks[i].id, 32);
    *key = (og_str_t){k, n};
    return 0;
}

int core_obj_read(cluster_t *cl, const core_meta_t *m, uint64_t first, uint64_t last, core_obj_sink_fn sink, void *ctx)
{
    og_str_t key, bytes;
    void *ticket;
    /* Only plain chunked objects of up to OBJ_COALESCE_MAX (an encrypted one needs its key): their
     * key stays small (512 chunk ids at most) and a flight's buffer bounded; bigger ones stream
     * batch by batch as before. */
    if (m->num_chunks == 0 || (m->flags & CORE_META_SSE) || m->size > OBJ_COALESCE_MAX || first > last ||
        last >= m->size || obj_fill_key(m, first, last, &key) != 0)
        return core_obj_read_key(cl, m, NULL, first, last, sink, ctx);
    obj_fill_t f = {.cl = cl, .m = m, .first = first, .last = last};
    int rc = cluster_coalesce(cl, key, (size_t)(last - first + 1), 0, obj_fill, &f, &bytes, &ticket);
    free((char *)key.base);
    if (rc == 1)
        return core_obj_read_key(cl, m, NULL, first, last, sink, ctx);
    if (rc != 0)
        return rc;
    rc = bytes.len == last - first + 1 ? sink(ctx, bytes.base, bytes.len) : OG_ECORRUPT;
    cluster_coalesce_done(cl, ticket);
    return rc;
}

/* ---------------------------------------------------------------- records */

int core_rec_put(cluster_t *cl, const char *table, og_str_t key, const core_meta_t *m, uint64_t ts, uint64_t tiebreak)
{
    char *summary = NULL, *detail = NULL;
    size_t slen, dlen;
    og_rec_t rec = {.ts = ts, .tiebreak = tiebreak};
    int rc;

    rec.size = m->size; /* the nodes' per-table usage counts it (cluster_table_usage) */
    if ((rc = core_meta_encode(m, &summary, &slen, &detail, &dlen)) != 0)
        return rc;
    rec.summary = (og_str_t){summary, slen};
    rec.detail = (og_str_t){detail, dlen};
    rc = cluster_rec_put(cl, table, key, &rec);
    free(summary);
    free(detail);
    return rc;
}

int core_rec_commit(cluster_t *cl, const char *table, og_str_t key, core_meta_t *m)
{
    uint64_t ts, tiebreak;
    cluster_stamp(cl, &ts, &tiebreak);
    m->mtime_ns = ts;
    return core_rec_put(cl, table, key, m, ts, tiebreak);
}

int core_rec_lookup(cluster_t *cl, const char *table, og_str_t key, core_meta_t *m, char **buf)
{
    og_rec_t rec;
    int rc;

    *buf = NULL;
    memset(m, 0, sizeof(*m));
    if ((rc = cluster_rec_get_shared(cl, table, key, &rec, buf)) != 0)
        return rc;
    if (rec.flags & OG_REC_TOMBSTONE)
        rc = OG_ENOTFOUND;
    else
        rc = core_meta_decode(&rec, m);
    if (rc != 0) {
        free(*buf);
        *buf = NULL;
    }
    return rc;
}

int core_rec_delete(cluster_t *cl, const char *table, og_str_t key)
{
    og_rec_t rec = {.flags = OG_REC_TOMBSTONE};
    cluster_stamp(cl, &rec.ts, &rec.tiebreak);
    return cluster_rec_put(cl, table, key, &rec);
}

int core_obj_lookup(cluster_t *cl, const char *bucket, og_str_t key, core_meta_t *m, char **buf)
{
    char table[CORE_TABLE_CAP];
    core_table('o', bucket, table);
    return core_rec_lookup(cl, table, key, m, buf);
}

int core_obj_lookup_live(cluster_t *cl, const char *bucket, og_str_t key, uint64_t now_s, core_meta_t *m, char **buf)
{
    int rc = core_obj_lookup(cl, bucket, key, m, buf);
    if (rc == 0 && core_meta_expired(m, now_s)) {
        core_meta_free(m);
        free(*buf);
        *buf = NULL;
        rc = OG_ENOTFOUND;
    }
    return rc;
}

int core_obj_touch(cluster_t *cl, const core_meta_t *m)
{
    if (m->num_chunks == 0)
        return 0;
    uint8_t *ids = malloc(m->num_chunks * 32);
    if (ids == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < m->num_chunks; i++)
        memcpy(ids + i * 32, m->chunks[i].id, 32);
    int rc = cluster_chunk_touch(cl, ids, m->num_chunks);
    free(ids);
    return rc;
}

int core_obj_expire(cluster_t *cl, const char *bucket, og_str_t key, const core_meta_t *m)
{
    char table[CORE_TABLE_CAP];
    og_rec_t rec = {.flags = OG_REC_TOMBSTONE, .tiebreak = 0};
    uint64_t at = m->delete_at * 1000000000u;
    rec.ts = at > m->mtime_ns ? at : m->mtime_ns + 1;
    core_table('o', bucket, table);
    int rc = cluster_rec_put(cl, table, key, &rec);
    if (rc == 0)
        core_quota_forget(cl, bucket, NULL);
    return rc;
}
