/*
 * threaded: N worker threads, each with its own FCGX_Request, all accepting on the same
 * listen socket at once. By default there is no application lock around FCGX_Accept_r
 * (the library must cope); -m adds the accept mutex older programs wrap around it.
 *
 * Each answer names the thread that served it and the length of the body it read.
 * Query options: sleep_ms=N (pause before answering), status=N.
 *
 * Usage: threaded [-t THREADS] [-m] [-s ADDR]
 */
#include <pthread.h>
#include <unistd.h>

#include "example_util.h"

static int listen_fd;
static int use_mutex;
static pthread_mutex_t accept_lock = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg)
{
    int index = (int)(long)arg;
    FCGX_Request req;
    char buf[8192];

    FCGX_InitRequest(&req, listen_fd, 0);
    for (;;) {
        const char *query;
        long body = 0;
        int rc, got;

        if (use_mutex)
            pthread_mutex_lock(&accept_lock);
        rc = FCGX_Accept_r(&req);
        if (use_mutex)
            pthread_mutex_unlock(&accept_lock);
        if (rc < 0)
            break;

        query = FCGX_GetParam("QUERY_STRING", req.envp);
        while ((got = FCGX_GetStr(buf, (int)sizeof buf, req.in)) > 0)
            body += got;
        sleep_ms(query_number(query, "sleep_ms", 0));
        FCGX_FPrintF(req.out,
                     "Status: 200 OK\r\nContent-Type: text/plain\r\nX-Thread: %d\r\n\r\n"
                     "thread %d\nstdin %ld\nquery [%s]\n",
                     index, index, body, query ? query : "");
        FCGX_SetExitStatus((int)query_number(query, "status", 0), req.out);
        FCGX_Finish_r(&req);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *addr = NULL;
    long nthreads = 4, i;
    pthread_t *threads;
    int opt;

    while ((opt = getopt(argc, argv, "s:t:m")) != -1) {
        switch (opt) {
        case 's':
            addr = optarg;
            break;
        case 't':
            nthreads = strtol(optarg, NULL, 10);
            break;
        case 'm':
            use_mutex = 1;
            break;
        default:
            fprintf(stderr, "usage: %s [-t THREADS] [-m] [-s ADDR]\n", argv[0]);
            return 2;
        }
    }
    if (nthreads < 1 || nthreads > 1024) {
        fprintf(stderr, "thread count out of range\n");
        return 2;
    }
    if (FCGX_Init() != 0)
        return 1;
    listen_fd = example_listen_socket(addr);

    threads = calloc((size_t)nthreads, sizeof *threads);
    if (threads == NULL)
        return 1;
    for (i = 0; i < nthreads; i++) {
        if (pthread_create(&threads[i], NULL, worker, (void *)i) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    }
    for (i = 0; i < nthreads; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    return 0;
}
