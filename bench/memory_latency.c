/* The machine's latency of one dependent load, by working-set size.
 *
 *     cc -O2 -o /tmp/memory_latency bench/memory_latency.c && /tmp/memory_latency [--huge]
 *
 * Each size is a ring of 64-byte lines in random order; each load reads the address of
 * the next, so no two loads overlap. It shows how much of a worker's state the caches
 * hold (docs/benchmarks.md: why the baseline's loop is cheap and the core's is not).
 * `--huge` asks for transparent huge pages (madvise), to tell page walks from memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define LINE 64
#define LOADS 20000000L
#define HUGE_PAGE (2UL << 20)

static unsigned long long state = 88172645463325252ULL;

static unsigned long long next_random(void) {
    /* xorshift64: deterministic, and good enough to scatter the lines */
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

int main(int argc, char **argv) {
    int huge = argc > 1 && strcmp(argv[1], "--huge") == 0;
    printf("working set  ns/load%s\n", huge ? "  (huge pages asked for)" : "");
    for (size_t mib = 1; mib <= 512; mib *= 2) {
        size_t bytes = mib << 20, lines = bytes / LINE, stride = LINE / sizeof(size_t);
        size_t *ring = aligned_alloc(HUGE_PAGE, bytes);
        size_t *order = malloc(lines * sizeof(size_t));
        if (ring == NULL || order == NULL) {
            perror("alloc");
            return 1;
        }
        if (huge)
            madvise(ring, bytes, MADV_HUGEPAGE);
        for (size_t i = 0; i < lines; i++)
            order[i] = i;
        for (size_t i = lines - 1; i > 0; i--) {
            size_t j = next_random() % (i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (size_t i = 0; i < lines; i++)
            ring[order[i] * stride] = order[(i + 1) % lines] * stride;
        struct timespec t0, t1;
        size_t at = 0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long i = 0; i < LOADS; i++)
            at = ring[at];
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
        /* `at` printed so that the loads cannot be optimized away */
        printf("%6zu MiB  %8.1f%s\n", mib, ns / LOADS, at == (size_t)-1 ? "!" : "");
        free(ring);
        free(order);
    }
    return 0;
}
