/*
 * malloc_count: an LD_PRELOAD shim that counts heap calls, for tests/alloc_free.rs.
 *
 * It wraps malloc, calloc, realloc, free, posix_memalign, aligned_alloc, memalign, valloc and
 * pvalloc, forwarding to glibc's __libc_* entry points (so no dlsym, and no recursion through
 * it). The counters live in a shared file mapping: with MALLOC_COUNT_FILE=PATH set, the shim
 * creates PATH and maps it, and another process reads the current counts at any moment by
 * reading the file. No signal handler and no thread are added to the program under test.
 *
 * File layout (native-endian u64 each): magic "MALLOCNT", then the counters in the order of
 * enum counter below. free(NULL) is not counted.
 *
 * Build: cc -shared -fPIC -O2 -o malloc_count.so malloc_count.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

enum counter {
    C_MALLOC,
    C_CALLOC,
    C_REALLOC,
    C_FREE,
    C_POSIX_MEMALIGN,
    C_ALIGNED_ALLOC,
    C_MEMALIGN,
    C_VALLOC,
    C_COUNT
};

#define MAGIC 0x544e434f4c4c414dULL /* "MALLOCNT" read as little-endian u64 */

struct counts {
    uint64_t magic;
    uint64_t c[C_COUNT];
};

/* Counts made before the constructor maps the file (the dynamic loader, early libc). */
static struct counts early;
static struct counts *volatile counts = &early;

static inline void bump(enum counter k)
{
    __atomic_fetch_add(&counts->c[k], 1, __ATOMIC_RELAXED);
}

__attribute__((constructor)) static void malloc_count_init(void)
{
    const char *path = getenv("MALLOC_COUNT_FILE");
    struct counts *m;
    int fd;

    if (path == NULL || *path == '\0')
        return;
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    if (ftruncate(fd, (off_t)sizeof(struct counts)) != 0) {
        close(fd);
        return;
    }
    m = mmap(NULL, sizeof(struct counts), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return;
    for (int i = 0; i < C_COUNT; i++)
        m->c[i] = __atomic_load_n(&early.c[i], __ATOMIC_RELAXED);
    __atomic_store_n(&m->magic, MAGIC, __ATOMIC_RELEASE);
    counts = m;
}

void *malloc(size_t n)
{
    bump(C_MALLOC);
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    bump(C_CALLOC);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    bump(C_REALLOC);
    return __libc_realloc(p, n);
}

void free(void *p)
{
    if (p != NULL) {
        bump(C_FREE);
        __libc_free(p);
    }
}

int posix_memalign(void **out, size_t align, size_t n)
{
    void *p;

    bump(C_POSIX_MEMALIGN);
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    p = __libc_memalign(align, n);
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}

void *aligned_alloc(size_t align, size_t n)
{
    bump(C_ALIGNED_ALLOC);
    return __libc_memalign(align, n);
}

void *memalign(size_t align, size_t n)
{
    bump(C_MEMALIGN);
    return __libc_memalign(align, n);
}

void *valloc(size_t n)
{
    bump(C_VALLOC);
    return __libc_valloc(n);
}

void *pvalloc(size_t n)
{
    bump(C_VALLOC);
    return __libc_pvalloc(n);
}
