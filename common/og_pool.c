/* og_pool.c: see og_pool.h. */
#include "og_pool.h"
#include "og.h"

#include <sys/mman.h>

int og_pool_init(og_pool_t *p, size_t len, unsigned idle_max)
{
    p->len = len;
    p->idle_max = idle_max < OG_POOL_IDLE_MAX ? idle_max : OG_POOL_IDLE_MAX;
    p->nidle = 0;
    return -pthread_mutex_init(&p->mu, NULL);
}

void og_pool_destroy(og_pool_t *p)
{
    for (unsigned i = 0; i < p->nidle; i++)
        munmap(p->idle[i], p->len);
    p->nidle = 0;
    pthread_mutex_destroy(&p->mu);
}

void *og_pool_get(og_pool_t *p)
{
    void *b = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->nidle > 0)
        b = p->idle[--p->nidle];
    pthread_mutex_unlock(&p->mu);
    if (b)
        return b;
    b = mmap(NULL, p->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return b == MAP_FAILED ? NULL : b;
}

void og_pool_put(og_pool_t *p, void *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&p->mu);
    if (p->nidle < p->idle_max) {
        uint64_t now = og_mono_ms();
        p->since[p->nidle] = now ? now : 1;
        p->idle[p->nidle++] = b;
        b = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    if (b)
        munmap(b, p->len);
}

/* The advice is given under the mutex: a buffer taken meanwhile would lose what its new holder
 * wrote. At most idle_max calls, each a few hundred microseconds for a full 4.5 MiB buffer. */
void og_pool_trim(og_pool_t *p, uint64_t idle_ms)
{
    uint64_t now = og_mono_ms();
    pthread_mutex_lock(&p->mu);
    for (unsigned i = 0; i < p->nidle; i++)
        if (p->since[i] != 0 && now - p->since[i] >= idle_ms) {
            madvise(p->idle[i], p->len, MADV_DONTNEED); /* advice: a failure only keeps pages */
            p->since[i] = 0;
        }
    pthread_mutex_unlock(&p->mu);
}
