/*
 * og_keys.h: the cluster key file, the one secret every process of a cluster shares.
 *
 * `onggi-ring create` writes it next to the ring (RING.keys, mode 0600), outside every data
 * directory: a stolen disk or data directory holds no key. It is a text file of lines
 *
 *     # comment
 *     node    <id> <64 hex digits>   HMAC-SHA256 key for node API requests
 *     secrets <id> <64 hex digits>   AES-256-GCM key for secrets stored in records
 *     sse     <id> <64 hex digits>   AES-256-GCM key that seals SSE-S3 objects' data keys
 *
 * where <id> is 1..16 of [A-Za-z0-9_-]. For each kind the FIRST line is the current key (it
 * signs, it encrypts) and every line of that kind is accepted (it verifies, it decrypts, found by
 * its id): rotation is "add a new first line everywhere, then drop the old line everywhere".
 */
#ifndef OG_KEYS_H
#define OG_KEYS_H

#include "og.h"

#include <stdint.h>

#define OG_KEY_BYTES 32
#define OG_KEY_ID_MAX 16
#define OG_KEYS_MAX 4 /* per kind: current + a few being rotated out */

typedef struct {
    char id[OG_KEY_ID_MAX + 1];
    uint8_t key[OG_KEY_BYTES];
} og_key_t;

typedef struct {
    og_key_t node[OG_KEYS_MAX];
    size_t num_node;
    og_key_t secrets[OG_KEYS_MAX];
    size_t num_secrets;
    og_key_t sse[OG_KEYS_MAX];
    size_t num_sse;
} og_keys_t;

/* Reads the key file at path into *out. Fails with OG_EINVAL when the file is readable by group
 * or others (a key file that leaked is not a key file), has a malformed line, a duplicate id
 * within a kind, more than OG_KEYS_MAX keys of a kind, or no key of either kind; -errno when it
 * cannot be read. *out is zeroed on failure. */
int og_keys_load(const char *path, og_keys_t *out);

/* Loads the key file of a process started with --ring ring_path [--keys keys_path]: keys_path when
 * not NULL, else ring_path + ".keys" (where `onggi-ring create` put it). Fails as og_keys_load, or
 * with OG_EINVAL when the file holds no `node` key (every process that talks to nodes needs one). */
int og_keys_load_for(const char *keys_path, const char *ring_path, og_keys_t *out);

/* Creates a new key file at path (O_EXCL, mode 0600) with one fresh random key of each kind, ids
 * "n1", "s1" and "e1". OG_EEXIST when the file exists (never overwrites keys), -errno on I/O errors,
 * OG_EINVAL when the random source fails. */
int og_keys_create(const char *path);

/* The key of keys[0..n) whose id equals id, or NULL. */
const og_key_t *og_keys_find(const og_key_t *keys, size_t n, og_str_t id);

/* Overwrites *k with zeros in a way the compiler may not elide. */
void og_keys_wipe(og_keys_t *k);

#endif
