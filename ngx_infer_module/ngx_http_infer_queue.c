
/*
 * ngx_infer: the model's shared-memory queue, the executor threads that
 * drain it, and the wake-up descriptor through which an executor (usually
 * in another process) tells a worker that its requests are done.
 *
 * One zone per model: a FIFO ring of slot numbers, a free stack, and the
 * slots, each with room for max_batch rows of input and output.  A zone is
 * mapped before the fork at the same address in every process, so plain
 * pointers into it are valid everywhere.  The zone's slab mutex guards the
 * ring, the stack and the slot states; the data of a slot belongs to
 * whoever holds the slot in its current state (owner: FILLING and DONE,
 * executor: RUNNING), so it is read and written without the lock.
 *
 * Executors sleep on a futex word in the zone, bumped on every enqueue, so
 * a worker in any process wakes them without knowing where they are.
 * Owners are woken through an abstract AF_UNIX datagram socket named after
 * their pid, made in init_process and registered in their event loop: any
 * process can reach it, across reloads and restarts, without inheriting a
 * descriptor, and a dead owner answers ECONNREFUSED.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <pthread.h>
#include <semaphore.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "ngx_http_infer_module.h"


typedef struct {
    uint32_t                    zone_id;
    uint32_t                    slot;
    uint64_t                    ticket;
} ngx_http_infer_wakeup_msg_t;


typedef struct {
    pthread_t                   tid;
    ngx_http_infer_model_t     *model;
    ngx_log_t                  *log;
    ngx_uint_t                  index;
    volatile ngx_uint_t         stop;
    int64_t                     drain_until;
    ngx_uint_t                  ready;       /* counted in sh->ready */
    ngx_uint_t                  running;
    sem_t                       started;     /* the backend is loaded, or
                                                failed to */
} ngx_http_infer_executor_t;


/*
 * Set by an executor whose device is lost; the wake-up that follows only
 * tells the event loop to look (anyone on the machine can send to the
 * wake-up socket, so a message alone must not make a worker exit).
 */
static ngx_uint_t  ngx_http_infer_device_lost;


static void *ngx_http_infer_executor_cycle(void *data);
static ngx_uint_t ngx_http_infer_claim(ngx_http_infer_executor_t *ex,
    uint32_t *batch, ngx_uint_t *rows);
static int ngx_http_infer_run_batch(ngx_http_infer_executor_t *ex,
    infer_backend_t *be, uint32_t *batch, uint64_t *tickets, ngx_uint_t n,
    ngx_uint_t rows, float *in, float *out);
static void ngx_http_infer_executor_lost(ngx_http_infer_executor_t *ex,
    int fd);
static void ngx_http_infer_notify(ngx_http_infer_executor_t *ex, int fd,
    uint32_t *batch, uint64_t *tickets, ngx_uint_t n);
static void ngx_http_infer_wakeup_handler(ngx_event_t *ev);
static socklen_t ngx_http_infer_wakeup_addr(struct sockaddr_un *sun,
    ngx_pid_t pid);
static void ngx_http_infer_pid_set(ngx_pid_t *pids, uint32_t *n,
    ngx_uint_t max, ngx_uint_t add);
static ngx_uint_t ngx_http_infer_pid_dead(ngx_pid_t pid);
static void ngx_http_infer_futex_wait(uint32_t *addr, uint32_t val,
    int64_t ns);
static void ngx_http_infer_futex_wake(uint32_t *addr, int n);


static ngx_connection_t  *ngx_http_infer_wakeup_conn;


int64_t
ngx_http_infer_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}


static size_t
ngx_http_infer_slot_bytes(ngx_http_infer_model_t *m)
{
    size_t  size;

    size = m->max_batch * (m->model->input_size + m->model->output_size)
           * sizeof(float);

    return ngx_align(size, 64);
}


size_t
ngx_http_infer_zone_size(ngx_http_infer_model_t *m)
{
    size_t  size;

    size = sizeof(ngx_http_infer_shctx_t)
           + m->queue * (2 * sizeof(uint32_t) + sizeof(ngx_http_infer_slot_t))
           + 64 + m->queue * ngx_http_infer_slot_bytes(m);

    /* the slab allocator's own page table and the pool header */
    size += size / 64 + 16 * ngx_pagesize;

    return ngx_align(size, ngx_pagesize);
}


ngx_int_t
ngx_http_infer_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_infer_model_t  *om = data;

    u_char                  *p;
    size_t                   len;
    uint32_t                 i;
    ngx_http_infer_model_t  *m;
    ngx_http_infer_shctx_t  *sh;

    m = shm_zone->data;
    m->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (om) {
        /*
         * a reload with the model unchanged: the zone's name carries the
         * model's fingerprint, so the queue and what is in it go on
         */
        m->sh = om->sh;

        ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                      "infer: model \"%V\" is unchanged, its queue goes on",
                      &m->name);
        return NGX_OK;
    }

    if (shm_zone->shm.exists) {
        m->sh = m->shpool->data;
        return NGX_OK;
    }

    len = sizeof(ngx_http_infer_shctx_t)
          + m->queue * (2 * sizeof(uint32_t) + sizeof(ngx_http_infer_slot_t))
          + 64 + m->queue * ngx_http_infer_slot_bytes(m);

    p = ngx_slab_alloc(m->shpool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    sh = (ngx_http_infer_shctx_t *) p;
    ngx_memzero(sh, sizeof(ngx_http_infer_shctx_t));
    p += sizeof(ngx_http_infer_shctx_t);

    sh->zone_id = (uint32_t) ((ngx_pid << 16) ^ ngx_random()) | 1;
    sh->nslots = m->queue;
    sh->slot_size = ngx_http_infer_slot_bytes(m);
    sh->in_size = m->model->input_size;
    sh->out_size = m->model->output_size;
    sh->next_ticket = 1;

    sh->fifo = (uint32_t *) p;
    p += m->queue * sizeof(uint32_t);
    sh->free = (uint32_t *) p;
    p += m->queue * sizeof(uint32_t);
    sh->slots = (ngx_http_infer_slot_t *) p;
    p += m->queue * sizeof(ngx_http_infer_slot_t);
    sh->data = ngx_align_ptr(p, 64);

    /* the stack pops slot 0 first */
    for (i = 0; i < sh->nslots; i++) {
        sh->free[i] = sh->nslots - 1 - i;
        sh->slots[i].state = NGX_HTTP_INFER_FREE;
    }
    sh->nfree = sh->nslots;

    m->sh = sh;
    m->shpool->data = sh;
    m->shpool->log_nomem = 0;

    ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                  "infer: model \"%V\" from \"%V\": a queue of %ui "
                  "requests of up to %ui rows", &m->name, &m->path, m->queue,
                  m->max_batch);

    return NGX_OK;
}


float *
ngx_http_infer_slot_input(ngx_http_infer_model_t *m, uint32_t slot)
{
    return (float *) (m->sh->data + (size_t) slot * m->sh->slot_size);
}


float *
ngx_http_infer_slot_output(ngx_http_infer_model_t *m, uint32_t slot)
{
    return ngx_http_infer_slot_input(m, slot)
           + m->max_batch * m->sh->in_size;
}


ngx_int_t
ngx_http_infer_slot_alloc(ngx_http_infer_model_t *m, ngx_http_infer_ctx_t *ctx)
{
    uint32_t                 n;
    ngx_http_infer_slot_t   *s;
    ngx_http_infer_shctx_t  *sh;

    sh = m->sh;

    ngx_shmtx_lock(&m->shpool->mutex);

    if (sh->nfree == 0) {
        ngx_shmtx_unlock(&m->shpool->mutex);
        return NGX_DECLINED;
    }

    n = sh->free[--sh->nfree];
    s = &sh->slots[n];

    s->state = NGX_HTTP_INFER_FILLING;
    s->owner = ngx_pid;
    s->executor = 0;
    s->ticket = sh->next_ticket++;
    s->failed = 0;
    sh->filling++;

    ngx_shmtx_unlock(&m->shpool->mutex);

    ctx->slot = n;
    ctx->ticket = s->ticket;
    m->pending[n] = ctx;

    return NGX_OK;
}


void
ngx_http_infer_slot_enqueue(ngx_http_infer_model_t *m,
    ngx_http_infer_ctx_t *ctx)
{
    ngx_http_infer_slot_t   *s;
    ngx_http_infer_shctx_t  *sh;

    sh = m->sh;
    s = &sh->slots[ctx->slot];

    s->rows = ctx->rows;
    s->t_enqueue = ngx_http_infer_now();

    ngx_shmtx_lock(&m->shpool->mutex);

    s->state = NGX_HTTP_INFER_QUEUED;
    sh->fifo[(sh->head + sh->queued) % sh->nslots] = ctx->slot;
    sh->queued++;
    sh->filling--;
    sh->seq++;

    ngx_shmtx_unlock(&m->shpool->mutex);

    ctx->parked = 1;

    /*
     * The executors are woken after the event loop has handled everything
     * that was ready in this turn (posted events run then): the requests
     * one turn reads go to the queue together, and a sleeping executor
     * takes them as one batch instead of waking for the first alone (the
     * bench's mlp784 JSON at 16 connections on one core: a mean batch of
     * 1.5 to 2 became 8).  A lone request waits for nothing but the rest
     * of its turn.
     */

    if (!m->kick.posted) {
        ngx_post_event(&m->kick, &ngx_posted_events);
    }
}


void
ngx_http_infer_kick_handler(ngx_event_t *ev)
{
    ngx_uint_t               wake;
    ngx_http_infer_model_t  *m;
    ngx_http_infer_shctx_t  *sh;

    m = ev->data;
    sh = m->sh;

    /* an executor that went to sleep before the enqueues is counted here;
     * one that checks the queue after them finds it not empty */

    ngx_shmtx_lock(&m->shpool->mutex);
    wake = sh->sleepers;
    ngx_shmtx_unlock(&m->shpool->mutex);

    if (wake) {
        ngx_http_infer_futex_wake(&sh->seq, 1);
    }
}


/*
 * The owner is done with its slot: answered, failed before it was queued,
 * or gone.  A slot an executor holds (queued or running) is only marked;
 * the executor frees it when it comes to it.
 */

void
ngx_http_infer_slot_release(ngx_http_infer_model_t *m,
    ngx_http_infer_ctx_t *ctx)
{
    ngx_http_infer_slot_t   *s;
    ngx_http_infer_shctx_t  *sh;

    sh = m->sh;
    s = &sh->slots[ctx->slot];

    if (m->pending[ctx->slot] == ctx) {
        m->pending[ctx->slot] = NULL;
    }

    ngx_shmtx_lock(&m->shpool->mutex);

    if (s->ticket != ctx->ticket) {
        ngx_shmtx_unlock(&m->shpool->mutex);
        return;
    }

    switch (s->state) {

    case NGX_HTTP_INFER_QUEUED:
    case NGX_HTTP_INFER_RUNNING:
        s->state = NGX_HTTP_INFER_CANCELLED;
        break;

    case NGX_HTTP_INFER_FILLING:
        sh->filling--;
        /* fall through */

    case NGX_HTTP_INFER_DONE:
        s->state = NGX_HTTP_INFER_FREE;
        s->ticket = 0;
        sh->free[sh->nfree++] = ctx->slot;
        break;

    default:
        break;
    }

    ngx_shmtx_unlock(&m->shpool->mutex);
}


/* executors */


ngx_int_t
ngx_http_infer_executors_start(ngx_cycle_t *cycle, ngx_http_infer_model_t *m,
    ngx_uint_t worker, ngx_uint_t nworkers)
{
    int                         err;
    ngx_uint_t                  i;
    pthread_attr_t              attr;
    ngx_http_infer_executor_t  *ex;

    if (ngx_array_init(&m->executors, cycle->pool, m->instances,
                       sizeof(ngx_http_infer_executor_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    err = pthread_attr_init(&attr);
    if (err) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, err,
                      "pthread_attr_init() failed");
        return NGX_ERROR;
    }

    for (i = 0; i < m->instances; i++) {

        /* executors are spread over the workers, round robin */
        if (i % nworkers != worker) {
            continue;
        }

        ex = ngx_array_push(&m->executors);
        if (ex == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(ex, sizeof(ngx_http_infer_executor_t));
        ex->model = m;
        ex->log = cycle->log;
        ex->index = i;

        if (sem_init(&ex->started, 0, 0) == -1) {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                          "sem_init() failed");
            m->executors.nelts--;
            (void) pthread_attr_destroy(&attr);
            return NGX_ERROR;
        }

        err = pthread_create(&ex->tid, &attr, ngx_http_infer_executor_cycle,
                             ex);
        if (err) {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, err,
                          "infer: pthread_create() failed for model \"%V\"",
                          &m->name);
            m->executors.nelts--;
            (void) pthread_attr_destroy(&attr);
            return NGX_ERROR;
        }

        ex->running = 1;
    }

    (void) pthread_attr_destroy(&attr);

    /*
     * The worker starts serving only once its executors are up, so that a
     * model that is ready is ready in the worker that answers about it.
     */

    ex = m->executors.elts;

    for (i = 0; i < m->executors.nelts; i++) {
        while (sem_wait(&ex[i].started) == -1 && ngx_errno == NGX_EINTR) {
            /* void */
        }
    }

    return NGX_OK;
}


/*
 * On a graceful exit (reload, quit) an executor goes on while other
 * workers that use its queue are alive and no executor of a live worker is
 * there to serve them: after a reload that changed the model, the old
 * workers' queue has only the old executors, and an old worker may still
 * be reading a request's body.  It stops when another executor is up, no
 * worker uses the queue any more, or the longest infer_timeout has passed.
 */

void
ngx_http_infer_attach(ngx_http_infer_model_t *m, ngx_uint_t attach)
{
    ngx_shmtx_lock(&m->shpool->mutex);

    ngx_http_infer_pid_set(m->sh->attached_pids, &m->sh->attached,
                           NGX_MAX_PROCESSES, attach);

    ngx_shmtx_unlock(&m->shpool->mutex);
}


/* adds ngx_pid to a pid set, or takes one instance of it out */

static void
ngx_http_infer_pid_set(ngx_pid_t *pids, uint32_t *n, ngx_uint_t max,
    ngx_uint_t add)
{
    ngx_uint_t  i;

    if (add) {
        if (*n < max) {
            pids[(*n)++] = ngx_pid;
        }

        return;
    }

    for (i = 0; i < *n; i++) {
        if (pids[i] == ngx_pid) {
            pids[i] = pids[--(*n)];
            return;
        }
    }
}


static ngx_uint_t
ngx_http_infer_pid_dead(ngx_pid_t pid)
{
    return kill(pid, 0) == -1 && ngx_errno == ESRCH;
}


/*
 * A worker that starts cleans up after those that died without a word
 * (the master starts one in each dead worker's place): their requests
 * are dropped, the batch a dead executor was computing is queued again
 * for the executors that live, and answers whose wake-up may have been
 * lost with it are announced again.
 */

void
ngx_http_infer_reap(ngx_http_infer_model_t *m, ngx_log_t *log)
{
    int                           fd;
    uint32_t                      i, k, requeued, freed, woken;
    socklen_t                     len;
    struct sockaddr_un            sun;
    ngx_http_infer_slot_t        *s;
    ngx_http_infer_shctx_t       *sh;
    ngx_http_infer_wakeup_msg_t   msg;

    sh = m->sh;
    requeued = freed = woken = 0;
    fd = -1;

    ngx_shmtx_lock(&m->shpool->mutex);

    for (i = 0; i < sh->attached; /* void */ ) {
        if (ngx_http_infer_pid_dead(sh->attached_pids[i])) {
            sh->attached_pids[i] = sh->attached_pids[--sh->attached];
            continue;
        }

        i++;
    }

    for (i = 0; i < sh->ready; /* void */ ) {
        if (ngx_http_infer_pid_dead(sh->ready_pids[i])) {
            sh->ready_pids[i] = sh->ready_pids[--sh->ready];
            continue;
        }

        i++;
    }

    for (i = 0; i < sh->nslots; i++) {
        s = &sh->slots[i];

        switch (s->state) {

        case NGX_HTTP_INFER_FILLING:
            if (!ngx_http_infer_pid_dead(s->owner)) {
                continue;
            }

            sh->filling--;
            break;

        case NGX_HTTP_INFER_QUEUED:
            if (ngx_http_infer_pid_dead(s->owner)) {
                /* in the FIFO: the executor that pops it frees it */
                s->state = NGX_HTTP_INFER_CANCELLED;
            }

            continue;

        case NGX_HTTP_INFER_RUNNING:
        case NGX_HTTP_INFER_CANCELLED:
            if (s->executor == 0 || !ngx_http_infer_pid_dead(s->executor)) {
                continue;
            }

            if (s->state == NGX_HTTP_INFER_RUNNING
                && !ngx_http_infer_pid_dead(s->owner))
            {
                s->state = NGX_HTTP_INFER_QUEUED;
                s->executor = 0;
                sh->fifo[(sh->head + sh->queued) % sh->nslots] = i;
                sh->queued++;
                sh->seq++;
                requeued++;
                continue;
            }

            break;

        case NGX_HTTP_INFER_DONE:
            if (ngx_http_infer_pid_dead(s->owner)) {
                break;
            }

            /* its executor may have died before the wake-up went out */

            if (fd == -1) {
                fd = socket(AF_UNIX, SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0);
            }

            if (fd != -1) {
                msg.zone_id = sh->zone_id;
                msg.slot = i;
                msg.ticket = s->ticket;
                len = ngx_http_infer_wakeup_addr(&sun, s->owner);

                if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *) &sun,
                           len)
                    != -1)
                {
                    woken++;
                }
            }

            continue;

        default:
            continue;
        }

        s->state = NGX_HTTP_INFER_FREE;
        s->ticket = 0;
        s->executor = 0;
        sh->free[sh->nfree++] = i;
        freed++;
    }

    k = requeued;

    ngx_shmtx_unlock(&m->shpool->mutex);

    if (fd != -1) {
        (void) close(fd);
    }

    if (k) {
        ngx_http_infer_futex_wake(&sh->seq, INT_MAX);
    }

    if (requeued || freed) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "infer: model \"%V\": after a worker died, %uD "
                      "requests were queued again and %uD slots freed",
                      &m->name, requeued, freed);
    }

    if (woken) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "infer: model \"%V\": %uD answers announced again",
                      &m->name, woken);
    }
}


void
ngx_http_infer_executors_stop(ngx_http_infer_model_t *m, ngx_uint_t drain,
    ngx_msec_t max_wait)
{
    ngx_uint_t                  i;
    ngx_http_infer_executor_t  *ex;

    ex = m->executors.elts;

    if (m->executors.nelts == 0) {
        return;
    }

    /* under the lock: an executor checks stop and reads seq in one go */

    ngx_shmtx_lock(&m->shpool->mutex);

    for (i = 0; i < m->executors.nelts; i++) {
        if (ex[i].ready) {
            ex[i].ready = 0;
            ngx_http_infer_pid_set(m->sh->ready_pids, &m->sh->ready,
                                   NGX_HTTP_INFER_MAX_EXECUTORS, 0);
        }

        ex[i].drain_until = drain ? ngx_http_infer_now()
                                    + (int64_t) max_wait * 1000000 : 0;
        ex[i].stop = 1;
    }

    m->sh->seq++;

    ngx_shmtx_unlock(&m->shpool->mutex);

    ngx_http_infer_futex_wake(&m->sh->seq, INT_MAX);

    for (i = 0; i < m->executors.nelts; i++) {
        if (ex[i].running) {
            (void) pthread_join(ex[i].tid, NULL);
            (void) sem_destroy(&ex[i].started);
            ex[i].running = 0;
        }
    }
}


static void *
ngx_http_infer_executor_cycle(void *data)
{
    ngx_http_infer_executor_t *ex = data;

    int                      fd, rc;
    char                     err[INFER_ERRLEN];
    float                   *in, *out;
    sigset_t                 set;
    uint32_t                *batch;
    uint64_t                *tickets;
    ngx_uint_t               n, rows;
    infer_backend_t         *be;
    ngx_http_infer_model_t  *m;

    m = ex->model;

    /* signals are the event loop's business */
    sigfillset(&set);
    sigdelset(&set, SIGILL);
    sigdelset(&set, SIGFPE);
    sigdelset(&set, SIGSEGV);
    sigdelset(&set, SIGBUS);
    (void) pthread_sigmask(SIG_BLOCK, &set, NULL);

    in = malloc(m->max_batch * m->model->input_size * sizeof(float));
    out = malloc(m->max_batch * m->model->output_size * sizeof(float));
    batch = malloc(m->max_batch * sizeof(uint32_t));
    tickets = malloc(m->max_batch * sizeof(uint64_t));
    fd = socket(AF_UNIX, SOCK_DGRAM|SOCK_CLOEXEC, 0);

    if (in == NULL || out == NULL || batch == NULL || tickets == NULL
        || fd == -1)
    {
        ngx_log_error(NGX_LOG_ALERT, ex->log, ngx_errno,
                      "infer: executor %ui of model \"%V\" cannot start",
                      ex->index, &m->name);
        (void) sem_post(&ex->started);
        goto failed;
    }

    if (m->gpu >= 0) {
        be = infer_backend_cuda_new(m->cuda_so, m->gpu, m->precision, err,
                                    sizeof(err));

    } else {
        be = infer_backend_cpu_new(err, sizeof(err));
    }

    if (be == NULL || be->iface->load(be, m->model, m->max_batch, err,
                                      sizeof(err))
                      != 0)
    {
        ngx_log_error(NGX_LOG_ALERT, ex->log, 0,
                      "infer: executor %ui of model \"%V\": %s",
                      ex->index, &m->name, err);
        if (be) {
            be->iface->free(be);
        }

        (void) sem_post(&ex->started);
        goto failed;
    }

    ngx_log_error(NGX_LOG_NOTICE, ex->log, 0,
                  "infer: executor %ui of model \"%V\" started on %s, "
                  "max_batch %ui", ex->index, &m->name,
                  be->iface->name(be), m->max_batch);

    ngx_shmtx_lock(&m->shpool->mutex);

    if (!ex->stop) {
        ngx_http_infer_pid_set(m->sh->ready_pids, &m->sh->ready,
                               NGX_HTTP_INFER_MAX_EXECUTORS, 1);
        ex->ready = 1;
    }

    ngx_shmtx_unlock(&m->shpool->mutex);

    (void) sem_post(&ex->started);

    for ( ;; ) {
        n = ngx_http_infer_claim(ex, batch, &rows);
        if (n == 0) {
            break;
        }

        rc = ngx_http_infer_run_batch(ex, be, batch, tickets, n, rows, in,
                                      out);
        ngx_http_infer_notify(ex, fd, batch, tickets, n);

        if (rc == INFER_BACKEND_LOST) {
            ngx_http_infer_executor_lost(ex, fd);
            break;
        }
    }

    be->iface->free(be);

failed:

    free(in);
    free(out);
    free(batch);
    free(tickets);

    if (fd != -1) {
        close(fd);
    }

    return NULL;
}


/*
 * Claims up to max_batch rows in FIFO order.  Once it holds a request it
 * waits, at most batch_timeout after that request was queued, for more to
 * come, but only while some worker is decoding a request into a slot: a
 * lone client pays nothing for the batch timer.  Returns the number of
 * slots claimed, 0 when the executor is to stop.
 */

static ngx_uint_t
ngx_http_infer_claim(ngx_http_infer_executor_t *ex, uint32_t *batch,
    ngx_uint_t *rows)
{
    int64_t                  deadline, now;
    uint32_t                 n, slot, seq;
    ngx_uint_t               nrows;
    ngx_http_infer_slot_t   *s;
    ngx_http_infer_model_t  *m;
    ngx_http_infer_shctx_t  *sh;

    m = ex->model;
    sh = m->sh;
    n = 0;
    nrows = 0;
    deadline = 0;

    ngx_shmtx_lock(&m->shpool->mutex);

    for ( ;; ) {

        while (sh->queued && nrows < m->max_batch) {
            slot = sh->fifo[sh->head];
            s = &sh->slots[slot];

            if (s->state == NGX_HTTP_INFER_CANCELLED) {
                s->state = NGX_HTTP_INFER_FREE;
                s->ticket = 0;
                sh->free[sh->nfree++] = slot;

            } else {
                if (nrows + s->rows > m->max_batch) {
                    break;
                }

                if (n == 0) {
                    deadline = s->t_enqueue
                               + (int64_t) m->batch_timeout * 1000000;
                }

                s->state = NGX_HTTP_INFER_RUNNING;
                s->executor = ngx_pid;
                batch[n++] = slot;
                nrows += s->rows;
            }

            sh->head = (sh->head + 1) % sh->nslots;
            sh->queued--;
        }

        /* ex->stop changes under the lock only */

        if (n && (nrows >= m->max_batch || sh->queued || sh->filling == 0
                  || ex->stop))
        {
            break;
        }

        now = ngx_http_infer_now();

        if (n) {
            if (now >= deadline) {
                break;
            }

        } else if (ex->stop) {
            if (sh->ready || sh->attached == 0 || now >= ex->drain_until) {
                ngx_shmtx_unlock(&m->shpool->mutex);
                return 0;
            }

            /* draining: attached workers may yet queue requests */
            deadline = now + 10000000;

        } else {
            deadline = now;
        }

        sh->sleepers++;
        seq = sh->seq;

        ngx_shmtx_unlock(&m->shpool->mutex);

        ngx_http_infer_futex_wait(&sh->seq, seq, deadline - now);

        ngx_shmtx_lock(&m->shpool->mutex);

        sh->sleepers--;
    }

    ngx_shmtx_unlock(&m->shpool->mutex);

    *rows = nrows;

    return n;
}


static int
ngx_http_infer_run_batch(ngx_http_infer_executor_t *ex, infer_backend_t *be,
    uint32_t *batch, uint64_t *tickets, ngx_uint_t n, ngx_uint_t rows,
    float *in, float *out)
{
    int                      rc;
    char                     err[INFER_ERRLEN];
    size_t                   isz, osz;
    int64_t                  t_start, t_run, t_end, t_done, queued;
    ngx_uint_t               i, b, off;
    ngx_http_infer_stats_t  *st;
    ngx_http_infer_slot_t   *s;
    ngx_http_infer_model_t  *m;
    ngx_http_infer_shctx_t  *sh;

    m = ex->model;
    sh = m->sh;
    isz = sh->in_size;
    osz = sh->out_size;
    queued = 0;

    t_start = ngx_http_infer_now();

    for (i = 0, off = 0; i < n; i++) {
        s = &sh->slots[batch[i]];
        ngx_memcpy(in + off * isz, ngx_http_infer_slot_input(m, batch[i]),
                   s->rows * isz * sizeof(float));
        off += s->rows;
        queued += t_start - s->t_enqueue;
    }

    t_run = ngx_http_infer_now();

    rc = be->iface->run(be, in, (int) rows, out, err, sizeof(err));
    if (rc == 0) {
        rc = be->iface->synchronize(be, err, sizeof(err));
    }

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, ex->log, 0,
                      "infer: model \"%V\" failed a batch of %ui rows: %s",
                      &m->name, rows, err);
    }

    t_end = ngx_http_infer_now();

    /* the slots are ours while RUNNING: no lock for their data */

    for (i = 0, off = 0; i < n; i++) {
        s = &sh->slots[batch[i]];

        if (rc == 0) {
            ngx_memcpy(ngx_http_infer_slot_output(m, batch[i]),
                       out + off * osz, s->rows * osz * sizeof(float));

        } else {
            ngx_cpystrn((u_char *) s->err, (u_char *) err, sizeof(s->err));
        }

        s->failed = (rc != 0);
        s->batch_rows = rows;
        s->t_start = t_start;
        s->t_end = t_end;
        off += s->rows;
    }

    t_done = ngx_http_infer_now();

    st = &sh->stats;

    for (b = 0; b < NGX_HTTP_INFER_BATCH_BUCKETS - 1; b++) {
        if (rows <= ((ngx_uint_t) 1 << b)) {
            break;
        }
    }

    ngx_http_infer_count(st->batch_size[b], 1);
    ngx_http_infer_count(st->exec_count, 1);
    ngx_http_infer_count(st->inference_count, rows);
    ngx_http_infer_count(st->queue_duration_us, queued / 1000);
    ngx_http_infer_count(st->compute_input_duration_us,
                         (t_run - t_start) / 1000);
    ngx_http_infer_count(st->compute_infer_duration_us,
                         (t_end - t_run) / 1000);
    ngx_http_infer_count(st->compute_output_duration_us,
                         (t_done - t_end) / 1000);

    ngx_shmtx_lock(&m->shpool->mutex);

    for (i = 0; i < n; i++) {
        s = &sh->slots[batch[i]];
        tickets[i] = s->ticket;

        if (s->state == NGX_HTTP_INFER_CANCELLED) {
            s->state = NGX_HTTP_INFER_FREE;
            s->ticket = 0;
            sh->free[sh->nfree++] = batch[i];
            tickets[i] = 0;
            continue;
        }

        s->state = NGX_HTTP_INFER_DONE;
    }

    ngx_shmtx_unlock(&m->shpool->mutex);

    return rc;
}


/*
 * The backend says the device is lost to this process (a sticky CUDA
 * error): every later batch would fail, and only a new process gets a
 * working device.  The executor stops counting as ready, sets the flag
 * and wakes its worker's event loop with a message for zone 0 (which no
 * zone has, so it only wakes); the worker sees the flag and exits, and
 * the master starts another worker, whose executor takes over the queue.
 * The batch that failed was answered with an error (a bad input does not
 * make an error sticky, so running it again would only fail elsewhere).
 */

static void
ngx_http_infer_executor_lost(ngx_http_infer_executor_t *ex, int fd)
{
    ssize_t                       rc;
    socklen_t                     len;
    struct sockaddr_un            sun;
    ngx_http_infer_model_t       *m;
    ngx_http_infer_wakeup_msg_t   msg;

    m = ex->model;

    ngx_shmtx_lock(&m->shpool->mutex);

    if (ex->ready) {
        ex->ready = 0;
        ngx_http_infer_pid_set(m->sh->ready_pids, &m->sh->ready,
                               NGX_HTTP_INFER_MAX_EXECUTORS, 0);
    }

    ngx_shmtx_unlock(&m->shpool->mutex);

    ngx_log_error(NGX_LOG_ALERT, ex->log, 0,
                  "infer: executor %ui of model \"%V\" lost its device, "
                  "worker %P exits to be replaced", ex->index, &m->name,
                  ngx_pid);

    __atomic_store_n(&ngx_http_infer_device_lost, 1, __ATOMIC_RELEASE);

    ngx_memzero(&msg, sizeof(ngx_http_infer_wakeup_msg_t));
    len = ngx_http_infer_wakeup_addr(&sun, ngx_pid);

    do {
        rc = sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *) &sun, len);
    } while (rc == -1 && ngx_errno == NGX_EINTR);

    if (rc == -1) {
        ngx_log_error(NGX_LOG_ALERT, ex->log, ngx_errno,
                      "infer: cannot tell worker %P to exit", ngx_pid);
    }
}


/*
 * One datagram per owner with all of its slots of the batch.  An owner
 * that is gone (killed, exited) refuses it: its slots are freed here, as
 * nobody else will.
 */

static void
ngx_http_infer_notify(ngx_http_infer_executor_t *ex, int fd, uint32_t *batch,
    uint64_t *tickets, ngx_uint_t n)
{
    ssize_t                       rc;
    ngx_pid_t                     owner;
    socklen_t                     len;
    ngx_uint_t                    i, j, k;
    struct sockaddr_un            sun;
    ngx_http_infer_slot_t        *s;
    ngx_http_infer_model_t       *m;
    ngx_http_infer_shctx_t       *sh;
    ngx_http_infer_wakeup_msg_t   msg[64];

    m = ex->model;
    sh = m->sh;

    for (i = 0; i < n; i++) {
        if (tickets[i] == 0) {
            continue;
        }

        owner = sh->slots[batch[i]].owner;
        k = 0;

        for (j = i; j < n; j++) {
            s = &sh->slots[batch[j]];

            if (tickets[j] == 0 || s->owner != owner) {
                continue;
            }

            msg[k].zone_id = sh->zone_id;
            msg[k].slot = batch[j];
            msg[k].ticket = tickets[j];

            if (j != i) {
                tickets[j] = 0;
            }

            if (++k == 64) {
                break;
            }
        }

        tickets[i] = 0;

        len = ngx_http_infer_wakeup_addr(&sun, owner);

        do {
            rc = sendto(fd, msg, k * sizeof(ngx_http_infer_wakeup_msg_t), 0,
                        (struct sockaddr *) &sun, len);
        } while (rc == -1 && ngx_errno == NGX_EINTR);

        if (rc != -1) {
            continue;
        }

        if (ngx_errno == ECONNREFUSED || ngx_errno == ENOENT) {
            ngx_log_error(NGX_LOG_WARN, ex->log, 0,
                          "infer: worker %P that owned %ui requests of model "
                          "\"%V\" is gone, their slots are freed",
                          owner, k, &m->name);

            ngx_shmtx_lock(&m->shpool->mutex);

            for (j = 0; j < k; j++) {
                s = &sh->slots[msg[j].slot];

                if (s->ticket == msg[j].ticket
                    && s->state == NGX_HTTP_INFER_DONE)
                {
                    s->state = NGX_HTTP_INFER_FREE;
                    s->ticket = 0;
                    sh->free[sh->nfree++] = msg[j].slot;
                }
            }

            ngx_shmtx_unlock(&m->shpool->mutex);

            continue;
        }

        /* the owner's timer will find the slot done */
        ngx_log_error(NGX_LOG_ALERT, ex->log, ngx_errno,
                      "infer: cannot wake worker %P", owner);
    }
}


/* the owner's side */


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
                ngx_http_infer_complete(m, msg[i].slot, msg[i].ticket);
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


static void
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


static void
ngx_http_infer_futex_wake(uint32_t *addr, int n)
{
    (void) syscall(SYS_futex, addr, FUTEX_WAKE, n, NULL, NULL, 0);
}
