/*
 * og_keys.c: the cluster key file (og_keys.h).
 */
#include "og_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYS_FILE_MAX 8192

static int id_ok(og_str_t id)
{
    if (id.len == 0 || id.len > OG_KEY_ID_MAX)
        return 0;
    for (size_t i = 0; i < id.len; i++) {
        char c = id.base[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}

/* The next whitespace-separated word of *line (advancing it); empty at the end. */
static og_str_t next_word(og_str_t *line)
{
    size_t i = 0;
    while (i < line->len && (line->base[i] == ' ' || line->base[i] == '\t'))
        i++;
    size_t start = i;
    while (i < line->len && line->base[i] != ' ' && line->base[i] != '\t')
        i++;
    og_str_t w = {line->base + start, i - start};
    line->base += i;
    line->len -= i;
    return w;
}

/* Parses one non-comment line into the matching kind of *out. 0 or OG_EINVAL. */
static int parse_line(og_str_t line, og_keys_t *out)
{
    og_str_t kind = next_word(&line), id = next_word(&line), hex = next_word(&line);
    if (next_word(&line).len != 0 || !id_ok(id) || hex.len != 2 * OG_KEY_BYTES)
        return OG_EINVAL;
    og_key_t *keys;
    size_t *num;
    if (og_str_ieq(kind, "node")) {
        keys = out->node;
        num = &out->num_node;
    } else if (og_str_ieq(kind, "secrets")) {
        keys = out->secrets;
        num = &out->num_secrets;
    } else if (og_str_ieq(kind, "sse")) {
        keys = out->sse;
        num = &out->num_sse;
    } else {
        return OG_EINVAL;
    }
    if (*num == OG_KEYS_MAX || og_keys_find(keys, *num, id) != NULL)
        return OG_EINVAL;
    og_key_t *k = &keys[*num];
    if (og_unhex(hex.base, hex.len, k->key, OG_KEY_BYTES) != 0)
        return OG_EINVAL;
    memcpy(k->id, id.base, id.len);
    k->id[id.len] = '\0';
    (*num)++;
    return 0;
}

static int parse_file(const char *text, size_t len, og_keys_t *out)
{
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        og_str_t line = og_str_trim((og_str_t){text + pos, end - pos});
        pos = end + 1;
        if (line.len == 0 || line.base[0] == '#')
            continue;
        int rc = parse_line(line, out);
        if (rc != 0)
            return rc;
    }
    return out->num_node > 0 || out->num_secrets > 0 ? 0 : OG_EINVAL;
}

int og_keys_load(const char *path, og_keys_t *out)
{
    char text[KEYS_FILE_MAX];
    int rc = 0;
    memset(out, 0, sizeof(*out));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto close_fd;
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0 || st.st_size >= KEYS_FILE_MAX) {
        rc = OG_EINVAL;
        goto close_fd;
    }
    ssize_t n = read(fd, text, sizeof(text));
    if (n < 0) {
        rc = -errno;
        goto close_fd;
    }
    rc = parse_file(text, (size_t)n, out);
    if (rc != 0)
        og_keys_wipe(out);
close_fd:
    OPENSSL_cleanse(text, sizeof(text));
    close(fd);
    return rc;
}

int og_keys_create(const char *path)
{
    uint8_t raw[3][OG_KEY_BYTES];
    char hex[3][2 * OG_KEY_BYTES + 1];
    int rc = 0;
    if (RAND_bytes(raw[0], sizeof(raw)) != 1)
        return OG_EINVAL;
    og_hex(raw[0], OG_KEY_BYTES, hex[0]);
    og_hex(raw[1], OG_KEY_BYTES, hex[1]);
    og_hex(raw[2], OG_KEY_BYTES, hex[2]);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = errno == EEXIST ? OG_EEXIST : -errno;
        goto wipe;
    }
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        rc = -errno;
        close(fd);
        unlink(path);
        goto wipe;
    }
    fprintf(f,
            "# Onggi cluster keys: keep secret (mode 0600), outside every data directory.\n"
            "# The first line of a kind signs/encrypts; every line of that kind is accepted.\n"
            "node n1 %s\nsecrets s1 %s\nsse e1 %s\n",
            hex[0], hex[1], hex[2]);
    if (fflush(f) != 0 || fsync(fd) != 0)
        rc = -errno;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc != 0)
        unlink(path); /* a half-written key file would be trusted by the next load */
wipe:
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(hex, sizeof(hex));
    return rc;
}

int og_keys_load_for(const char *keys_path, const char *ring_path, og_keys_t *out)
{
    char path[4096];
    if (!keys_path) {
        if ((size_t)snprintf(path, sizeof(path), "%s.keys", ring_path) >= sizeof(path))
            return -ENAMETOOLONG;
        keys_path = path;
    }
    int rc = og_keys_load(keys_path, out);
    if (rc == 0 && out->num_node == 0) {
        og_keys_wipe(out);
        rc = OG_EINVAL;
    }
    return rc;
}

const og_key_t *og_keys_find(const og_key_t *keys, size_t n, og_str_t id)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(keys[i].id) == id.len && memcmp(keys[i].id, id.base, id.len) == 0)
            return &keys[i];
    return NULL;
}

void og_keys_wipe(og_keys_t *k)
{
    OPENSSL_cleanse(k, sizeof(*k));
}
