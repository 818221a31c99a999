/*
 * ngx_infer: loading the CUDA backend's shared object, see
 * infer_backend_cuda.h.
 *
 * Two rules from the CUDA runtime shape this file.  A CUDA context does
 * not survive fork(): the process that forks nginx's workers (the master)
 * must never initialise CUDA, so its configuration-time probe runs in a
 * child of its own.  And the runtime, linked statically into the shared
 * object, registers exit-time clean-up inside it: once the object has
 * been called it stays mapped until the process ends (never dlclose'd).
 */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "infer_backend_cuda.h"


/* what the probe's child writes into the pipe, in one write() */
typedef struct {
    int   rc;
    char  info[256];
    char  err[INFER_ERRLEN];
} infer_cuda_probe_answer_t;


static void *infer_cuda_dlsym(const char *so_path, const char *sym,
    void **handle, char *err, size_t errlen);
static void infer_cuda_probe_child(int fd, const char *so_path, int device);
static int infer_cuda_read_answer(int fd, infer_cuda_probe_answer_t *a,
    int timeout_ms);
static void infer_cuda_reap(pid_t pid, int *status);
static long long infer_cuda_now_ms(void);


infer_backend_t *
infer_backend_cuda_new(const char *so_path, int device, int precision,
    char *err, size_t errlen)
{
    void                       *handle;
    infer_cuda_backend_new_pt   create;

    create = (infer_cuda_backend_new_pt) infer_cuda_dlsym(so_path,
                                            INFER_CUDA_BACKEND_NEW_SYM,
                                            &handle, err, errlen);
    if (create == NULL) {
        return NULL;
    }

    /* handle is kept open for good: see the top of this file */
    return create(device, precision, err, errlen);
}


int
infer_cuda_probe_isolated(const char *so_path, int device, char *info,
    size_t infolen, char *err, size_t errlen)
{
    int                        fds[2], rc, status, e;
    pid_t                      pid;
    infer_cuda_probe_answer_t  a;

    if (infolen > 0) {
        info[0] = '\0';
    }

    if (pipe(fds) == -1) {
        snprintf(err, errlen, "cuda probe: pipe(): %s", strerror(errno));
        return -1;
    }

    /* not inherited by a program another thread of the caller execs */
    if (fcntl(fds[0], F_SETFD, FD_CLOEXEC) == -1
        || fcntl(fds[1], F_SETFD, FD_CLOEXEC) == -1)
    {
        snprintf(err, errlen, "cuda probe: fcntl(FD_CLOEXEC): %s",
                 strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }

    pid = fork();

    if (pid == -1) {
        snprintf(err, errlen, "cuda probe: fork(): %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }

    if (pid == 0) {
        close(fds[0]);
        infer_cuda_probe_child(fds[1], so_path, device);
        _exit(0);
    }

    close(fds[1]);

    rc = infer_cuda_read_answer(fds[0], &a,
                                INFER_CUDA_PROBE_TIMEOUT * 1000);
    e = errno;
    close(fds[0]);

    if (rc == 1 || rc == -1) {
        /* no answer in time (a hung driver, a GPU that does not respond),
         * or none that can be read */
        kill(pid, SIGKILL);
    }

    infer_cuda_reap(pid, &status);

    if (rc == 1) {
        snprintf(err, errlen, "cuda probe of device %d in %s: no answer "
                 "after %d s, killed", device, so_path,
                 INFER_CUDA_PROBE_TIMEOUT);
        return -1;
    }

    if (rc == -1) {
        snprintf(err, errlen, "cuda probe: reading its answer: %s",
                 strerror(e));
        return -1;
    }

    if (rc == 2) {
        /* the child died before it answered: a crash inside the driver */
        if (status != -1 && WIFSIGNALED(status)) {
            snprintf(err, errlen, "cuda probe of device %d in %s: the probe "
                     "process was killed by signal %d (%s)", device, so_path,
                     WTERMSIG(status), strsignal(WTERMSIG(status)));

        } else if (status != -1 && WIFEXITED(status)) {
            snprintf(err, errlen, "cuda probe of device %d in %s: the probe "
                     "process exited with code %d and no answer", device,
                     so_path, WEXITSTATUS(status));

        } else {
            snprintf(err, errlen, "cuda probe of device %d in %s: the probe "
                     "process ended with no answer", device, so_path);
        }

        return -1;
    }

    a.info[sizeof(a.info) - 1] = '\0';
    a.err[sizeof(a.err) - 1] = '\0';

    if (a.rc != 0) {
        snprintf(err, errlen, "%s", a.err);
        return -1;
    }

    snprintf(info, infolen, "%s", a.info);

    return 0;
}


/* the symbol, or NULL with dlerror()'s text in err */
static void *
infer_cuda_dlsym(const char *so_path, const char *sym, void **handle,
    char *err, size_t errlen)
{
    void        *p;
    const char  *e;

    *handle = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);

    if (*handle == NULL) {
        e = dlerror();
        snprintf(err, errlen, "dlopen(): %s", e != NULL ? e : so_path);
        return NULL;
    }

    /* dlsym() may return NULL for a symbol that exists: ask dlerror() */
    (void) dlerror();
    p = dlsym(*handle, sym);
    e = dlerror();

    if (e != NULL || p == NULL) {
        snprintf(err, errlen, "dlsym(): %s",
                 e != NULL ? e : "symbol is NULL");

        /* nothing of it ran: it can go */
        dlclose(*handle);
        *handle = NULL;
        return NULL;
    }

    return p;
}


static void
infer_cuda_probe_child(int fd, const char *so_path, int device)
{
    void                       *handle;
    ssize_t                     n;
    infer_cuda_probe_pt         probe;
    infer_cuda_probe_answer_t   a;

    memset(&a, 0, sizeof(a));

    /* a parent that went away must not kill us with SIGPIPE mid-write:
     * the write fails and we exit all the same */
    signal(SIGPIPE, SIG_IGN);

    probe = (infer_cuda_probe_pt) infer_cuda_dlsym(so_path,
                                                   INFER_CUDA_PROBE_SYM,
                                                   &handle, a.err,
                                                   sizeof(a.err));

    if (probe == NULL) {
        a.rc = -1;

    } else {
        a.rc = probe(device, a.info, sizeof(a.info), a.err, sizeof(a.err));
    }

    /* smaller than PIPE_BUF: one write, whole or not at all */
    do {
        n = write(fd, &a, sizeof(a));
    } while (n == -1 && errno == EINTR);

    close(fd);
}


/*
 * 0: the whole answer was read; 1: timed out; 2: end of file before the
 * whole answer (the child died); -1: an error, errno set.
 */
static int
infer_cuda_read_answer(int fd, infer_cuda_probe_answer_t *a, int timeout_ms)
{
    int            rc;
    size_t         got;
    ssize_t        n;
    long long      deadline, left;
    struct pollfd  pfd;

    deadline = infer_cuda_now_ms() + timeout_ms;
    got = 0;

    while (got < sizeof(*a)) {
        left = deadline - infer_cuda_now_ms();

        if (left <= 0) {
            return 1;
        }

        pfd.fd = fd;
        pfd.events = POLLIN;
        pfd.revents = 0;

        rc = poll(&pfd, 1, (int) left);

        if (rc == -1) {
            if (errno == EINTR) {
                continue;
            }

            return -1;
        }

        if (rc == 0) {
            return 1;
        }

        n = read(fd, (char *) a + got, sizeof(*a) - got);

        if (n == -1) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }

            return -1;
        }

        if (n == 0) {
            return 2;
        }

        got += (size_t) n;
    }

    return 0;
}


/*
 * Waits for the child, at most a few seconds after it was killed: a
 * process stuck inside a driver call may not die at once, and the caller
 * must not hang with it.  *status is -1 when it was not collected (a
 * SIGCHLD handler of the caller's may have reaped it first).
 */
static void
infer_cuda_reap(pid_t pid, int *status)
{
    int              i;
    pid_t            r;
    struct timespec  ts;

    ts.tv_sec = 0;
    ts.tv_nsec = 10 * 1000 * 1000;

    *status = -1;

    for (i = 0; i < 500; i++) {
        r = waitpid(pid, status, WNOHANG);

        if (r == pid) {
            return;
        }

        if (r == -1 && errno != EINTR) {
            *status = -1;
            return;
        }

        nanosleep(&ts, NULL);
    }

    *status = -1;
}


static long long
infer_cuda_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
