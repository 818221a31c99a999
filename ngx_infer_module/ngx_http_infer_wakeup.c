
/*
 * ngx_infer: the cross-process wake-ups.
 *
 * Executors sleep on a futex word in the model's zone, bumped on every
 * enqueue, so a worker in any process wakes them without knowing where
 * they are.  Owners are woken through an abstract AF_UNIX datagram socket
 * named after their pid, made in init_process and registered in their
 * event loop: any process can reach it, across reloads and restarts,
 * without inheriting a descriptor, and a dead owner answers ECONNREFUSED.
 * A message names a zone, a slot and its ticket, and says whether the
 * work is done or has made progress.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "ngx_http_infer_module.h"


static void ngx_http_infer_wakeup_handler(ngx_event_t *ev);
static socklen_t ngx_http_infer_wakeup_addr(struct sockaddr_un *sun,
    ngx_pid_t pid);


static ngx_connection_t  *ngx_http_infer_wakeup_conn;

/*
 * Set by an executor whose device is lost; the wake-up that follows only
 * tells the event loop to look (anyone on the machine can send to the
 * wake-up socket, so a message alone must not make a worker exit).
 */
static ngx_uint_t  ngx_http_infer_device_lost;


static socklen_t
ngx_http_infer_wakeup_addr(struct sockaddr_un *sun, ngx_pid_t pid)
{
    u_char  *p;

    ngx_memzero(sun, sizeof(struct sockaddr_un));
    sun->sun_family = AF_UNIX;

    /* sun_path[0] == '\0': the abstract namespace, no file to clean up */
    p = ngx_sprintf((u_char *) sun->sun_path + 1, "ngx_infer/%P", pid);

    return offsetof(struct sockaddr_un, sun_path) + (p - (u_char *) sun->sun_path);
}


ngx_int_t
ngx_http_infer_wakeup_init(ngx_cycle_t *cycle)
{
    int                  fd, size;
    socklen_t            len;
    ngx_event_t         *rev;
    ngx_connection_t    *c;
    struct sockaddr_un   sun;

    fd = socket(AF_UNIX, SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0);
    if (fd == -1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_socket_errno,
                      "infer: socket() failed");
        return NGX_ERROR;
    }

    size = 4 * 1024 * 1024;
    (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(int));

    len = ngx_http_infer_wakeup_addr(&sun, ngx_pid);

    if (bind(fd, (struct sockaddr *) &sun, len) == -1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_socket_errno,
                      "infer: bind() of the wake-up socket failed");
        (void) close(fd);
        return NGX_ERROR;
    }

    c = ngx_get_connection(fd, cycle->log);
    if (c == NULL) {
        (void) close(fd);
        return NGX_ERROR;
    }

    rev = c->read;
    rev->log = cycle->log;
    rev->handler = ngx_http_infer_wakeup_handler;
    c->data = cycle;

    if (ngx_add_event(rev, NGX_READ_EVENT, 0) != NGX_OK) {
        ngx_close_connection(c);
        return NGX_ERROR;
    }

    ngx_http_infer_wakeup_conn = c;

    return NGX_OK;
}


void
ngx_http_infer_wakeup_done(ngx_cycle_t *cycle)
{
    if (ngx_http_infer_wakeup_conn) {
        ngx_close_connection(ngx_http_infer_wakeup_conn);
        ngx_http_infer_wakeup_conn = NULL;
    }
}


static void
ngx_http_infer_wakeup_handler(ngx_event_t *ev)
{
    ssize_t                       n, i;
    ngx_connection_t             *c;
    ngx_http_infer_model_t       *m;
    ngx_http_infer_wakeup_msg_t   msg[64];

    c = ev->data;

    /* edge-triggered: drain until EAGAIN */

    for ( ;; ) {
        n = recv(c->fd, msg, sizeof(msg), 0);

        if (n == -1) {
            if (ngx_socket_errno == NGX_EINTR) {
                continue;
            }

            if (ngx_socket_errno != NGX_EAGAIN) {
                ngx_log_error(NGX_LOG_ALERT, ev->log, ngx_socket_errno,
                              "infer: recv() on the wake-up socket failed");
            }

            break;
        }

        n /= sizeof(ngx_http_infer_wakeup_msg_t);

        for (i = 0; i < n; i++) {
            m = ngx_http_infer_find_zone(msg[i].zone_id);
            if (m != NULL) {
                ngx_http_infer_wake(m, msg[i].slot, msg[i].ticket,
                                    msg[i].kind);
            }
        }
    }

    if (__atomic_load_n(&ngx_http_infer_device_lost, __ATOMIC_ACQUIRE)
        && !ngx_terminate)
    {
        /* see ngx_http_infer_executor_lost(): the master starts another
         * worker when one exits that it did not tell to */
        ngx_log_error(NGX_LOG_NOTICE, ev->log, 0,
                      "infer: an executor of this worker lost its device, "
                      "exiting");
        ngx_terminate = 1;
    }
}


/* n messages to the worker pid; NGX_DECLINED when it is gone */

ngx_int_t
ngx_http_infer_wakeup_send(int fd, ngx_pid_t pid,
    ngx_http_infer_wakeup_msg_t *msg, ngx_uint_t n)
{
    ssize_t             rc;
    socklen_t           len;
    struct sockaddr_un  sun;

    len = ngx_http_infer_wakeup_addr(&sun, pid);

    do {
        rc = sendto(fd, msg, n * sizeof(ngx_http_infer_wakeup_msg_t), 0,
                    (struct sockaddr *) &sun, len);
    } while (rc == -1 && ngx_errno == NGX_EINTR);

    if (rc != -1) {
        return NGX_OK;
    }

    if (ngx_errno == ECONNREFUSED || ngx_errno == ENOENT) {
        return NGX_DECLINED;
    }

    return NGX_ERROR;
}


/*
 * From an executor thread whose device is lost: the flag, then a message
 * for zone 0 (which no zone has) that only wakes this worker's event
 * loop, which sees the flag and exits.
 */

ngx_int_t
ngx_http_infer_wakeup_lost(int fd)
{
    ngx_http_infer_wakeup_msg_t  msg;

    __atomic_store_n(&ngx_http_infer_device_lost, 1, __ATOMIC_RELEASE);

    ngx_memzero(&msg, sizeof(ngx_http_infer_wakeup_msg_t));

    return ngx_http_infer_wakeup_send(fd, ngx_pid, &msg, 1);
}


void
ngx_http_infer_futex_wait(uint32_t *addr, uint32_t val, int64_t ns)
{
    struct timespec  ts, *tp;

    tp = NULL;

    if (ns > 0) {
        ts.tv_sec = ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        tp = &ts;
    }

    /* shared between processes: no FUTEX_PRIVATE_FLAG */
    (void) syscall(SYS_futex, addr, FUTEX_WAIT, val, tp, NULL, 0);
}


void
ngx_http_infer_futex_wake(uint32_t *addr, int n)
{
    (void) syscall(SYS_futex, addr, FUTEX_WAKE, n, NULL, NULL, 0);
}
