/* bench/spin.c: CPU-bound threads at the lowest scheduling class, as a reference for what any
 * background work costs the API on this machine.
 *
 *   spin THREADS SECONDS
 *
 * Starts THREADS threads under SCHED_IDLE (nice 19 where that is refused) that do nothing but
 * count, so they take exactly the CPU time no other thread wants, touch no memory and make no
 * system calls; all stop after SECONDS. bench/media.sh measures the API's latency beside them
 * and beside the generation workers, which run under the same class. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static atomic_int stop;

static void *spin(void *arg)
{
    (void)arg;
    struct sched_param none = { 0 };
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &none) != 0) setpriority(PRIO_PROCESS, 0, 19);
    volatile unsigned long n = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) n++;
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc == 3 ? atoi(argv[1]) : 0, seconds = argc == 3 ? atoi(argv[2]) : 0;
    if (threads < 1 || threads > 64 || seconds < 1 || seconds > 3600) {
        fprintf(stderr, "usage: spin THREADS(1..64) SECONDS(1..3600)\n");
        return 2;
    }
    pthread_t t[64];
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, spin, NULL);
    struct timespec ts = { seconds, 0 };
    while (nanosleep(&ts, &ts) != 0) {}
    atomic_store(&stop, 1);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    return 0;
}
