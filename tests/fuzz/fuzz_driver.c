/*
 * main() for fuzz_rsc.c without libFuzzer (the fuzz_rsc_replay test):
 *   fuzz_rsc_replay FILE...   runs each file once, e.g. a corpus or a crash libFuzzer saved;
 *   fuzz_rsc_replay           runs FUZZ_RUNS (default 20000) pseudo-random inputs from
 *                             fuzz_rsc_generate: mostly mergeable TCP programs, one in five
 *                             random bytes. The seed is printed; FUZZ_SEED=<n> replays it.
 *   fuzz_rsc_replay -w DIR    writes FUZZ_RUNS (default 200) such inputs into DIR instead: a
 *                             seed corpus for libFuzzer.
 * The target abort()s on a broken invariant; the abort handler then names the input and
 * writes it to fuzz-rsc-crash-<seed>-<run> in the current directory for replay.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t fuzz_rsc_generate(uint8_t *buf, size_t cap, uint64_t seed);
const char *fuzz_rsc_summary(void);

#define INPUT_MAX 4096 /* libFuzzer's default -max_len */

static uint8_t input[INPUT_MAX];
static size_t input_len;
static unsigned long long run_seed;
static long run_no = -1;

/* On abort: keep the input that caused it. Only async-signal-safe calls. */
static void on_abort(int sig)
{
    char name[96];
    int fd;

    if (run_no >= 0) {
        snprintf(name, sizeof name, "fuzz-rsc-crash-%#llx-%ld", run_seed, run_no);
        fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            if (write(fd, input, input_len) < 0)
                name[0] = '\0';
            close(fd);
        }
        dprintf(2, "fuzz_rsc_replay: FUZZ_SEED=%#llx run %ld failed; input saved as %s\n", run_seed,
                run_no, name);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* The input of run n of seed: every length up to the cap, short ones more often. */
static void generate(unsigned long long seed, long n)
{
    size_t cap = n % 64 == 0 ? INPUT_MAX : (size_t)(n * 7919 % 256);

    input_len = fuzz_rsc_generate(input, cap, seed * 0x9e3779b97f4a7c15ULL + (uint64_t)n);
}

static int write_corpus(const char *dir, unsigned long long seed, long runs)
{
    for (long n = 0; n < runs; n++) {
        char name[4096];
        FILE *f;

        generate(seed, n);
        snprintf(name, sizeof name, "%s/gen-%#llx-%ld", dir, seed, n);
        f = fopen(name, "wb");
        if (!f || fwrite(input, 1, input_len, f) != input_len || fclose(f) != 0) {
            perror(name);
            return 1;
        }
    }
    printf("fuzz_rsc_replay: %ld inputs written to %s\n", runs, dir);
    return 0;
}

static int replay_files(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        static uint8_t buf[1 << 20];
        FILE *f = fopen(argv[i], "rb");
        size_t n;

        if (!f) {
            perror(argv[i]);
            return 1;
        }
        n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
    }
    printf("fuzz_rsc_replay: %d files: %s\n", argc - 1, fuzz_rsc_summary());
    return 0;
}

int main(int argc, char **argv)
{
    const char *env_seed = getenv("FUZZ_SEED"), *env_runs = getenv("FUZZ_RUNS");
    unsigned long long seed =
        env_seed ? strtoull(env_seed, NULL, 0) : (unsigned long long)time(NULL);
    long runs = env_runs ? strtol(env_runs, NULL, 0) : 20000;
    struct timespec t0, t1;

    if (argc == 3 && strcmp(argv[1], "-w") == 0)
        return write_corpus(argv[2], seed, env_runs ? runs : 200);
    LLVMFuzzerInitialize(&argc, &argv);
    if (argc > 1)
        return replay_files(argc, argv);

    printf("fuzz_rsc_replay: FUZZ_SEED=%#llx FUZZ_RUNS=%ld\n", seed, runs);
    fflush(stdout);
    run_seed = seed;
    signal(SIGABRT, on_abort);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (run_no = 0; run_no < runs; run_no++) {
        generate(seed, run_no);
        LLVMFuzzerTestOneInput(input, input_len);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    run_no = -1;
    printf("fuzz_rsc_replay: %s in %.1f s\n", fuzz_rsc_summary(),
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}
