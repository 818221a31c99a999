
/*
 * ngx_infer: the executor threads.
 *
 * An executor is a thread of an nginx worker (instances are spread over
 * the workers), started in init_process and stopped in exit_process.  It
 * never touches the event loop, pools or connections: only the model's
 * zone, the model and its backend.  Its loop: claim queued slots up to
 * max_batch sequences and max_batch_tokens tokens (waiting batch_timeout
 * for more while a worker is still decoding one), gather them into a
 * ragged batch (rows of FP32 features, or a text model's token ids with
 * their positions), compute it with the runner (the model's architecture
 * on the backend), scatter the outputs into the slots, and wake each
 * owner.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <pthread.h>
#include <semaphore.h>

#include "ngx_http_infer_module.h"
#include "infer_runner.h"


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


/* what a batch is gathered into, per executor */
typedef struct {
    uint32_t                   *slots;
    uint64_t                   *tickets;
    infer_seq_t                *seqs;
    uint64_t                   *ids;
    float                      *in;         /* or int32_t token ids */
    int32_t                    *pos;
    float                      *out;
    infer_runner_t              runner;
} ngx_http_infer_work_t;


static void *ngx_http_infer_executor_cycle(void *data);
static ngx_int_t ngx_http_infer_work_init(ngx_http_infer_executor_t *ex,
    ngx_http_infer_work_t *w);
static void ngx_http_infer_work_free(ngx_http_infer_work_t *w);
static ngx_uint_t ngx_http_infer_claim(ngx_http_infer_executor_t *ex,
    uint32_t *batch, ngx_uint_t *rows);
static int ngx_http_infer_run_batch(ngx_http_infer_executor_t *ex,
    ngx_http_infer_work_t *w, ngx_uint_t n, ngx_uint_t rows);
static void ngx_http_infer_executor_lost(ngx_http_infer_executor_t *ex,
    int fd);
static void ngx_http_infer_notify(ngx_http_infer_executor_t *ex, int fd,
    uint32_t *batch, uint64_t *tickets, ngx_uint_t n);


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
            ngx_http_infer_ready(m, 0);
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
    sigset_t                 set;
    ngx_uint_t               n, rows;
    infer_backend_t         *be;
    ngx_http_infer_work_t    w;
    ngx_http_infer_model_t  *m;

    m = ex->model;
    be = NULL;

    /* signals are the event loop's business */
    sigfillset(&set);
    sigdelset(&set, SIGILL);
    sigdelset(&set, SIGFPE);
    sigdelset(&set, SIGSEGV);
    sigdelset(&set, SIGBUS);
    (void) pthread_sigmask(SIG_BLOCK, &set, NULL);

    fd = socket(AF_UNIX, SOCK_DGRAM|SOCK_CLOEXEC, 0);

    if (ngx_http_infer_work_init(ex, &w) != NGX_OK || fd == -1) {
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
        be = infer_backend_cpu_new(m->precision, err, sizeof(err));
    }

    if (be == NULL
        || infer_runner_init(&w.runner, m->model, be, (int) m->max_batch,
                             (int) m->max_batch_tokens, err, sizeof(err))
           != 0)
    {
        ngx_log_error(NGX_LOG_ALERT, ex->log, 0,
                      "infer: executor %ui of model \"%V\": %s",
                      ex->index, &m->name, err);
        (void) sem_post(&ex->started);
        goto failed;
    }

    ngx_log_error(NGX_LOG_NOTICE, ex->log, 0,
                  "infer: executor %ui of model \"%V\" started on %s, "
                  "max_batch %ui, max_batch_tokens %ui", ex->index, &m->name,
                  be->iface->name(be), m->max_batch, m->max_batch_tokens);

    ngx_shmtx_lock(&m->shpool->mutex);

    if (!ex->stop) {
        ngx_http_infer_ready(m, 1);
        ex->ready = 1;
    }

    ngx_shmtx_unlock(&m->shpool->mutex);

    (void) sem_post(&ex->started);

    if (m->bpe) {
        /* a decoder: sequences run step by step, joining and leaving */
        ngx_http_infer_generate(m, ex->log, &w.runner, fd, &ex->stop,
                                &ex->drain_until);
        goto failed;
    }

    for ( ;; ) {
        n = ngx_http_infer_claim(ex, w.slots, &rows);
        if (n == 0) {
            break;
        }

        rc = ngx_http_infer_run_batch(ex, &w, n, rows);
        ngx_http_infer_notify(ex, fd, w.slots, w.tickets, n);

        if (rc == INFER_BACKEND_LOST) {
            ngx_http_infer_executor_lost(ex, fd);
            break;
        }
    }

failed:

    ngx_http_infer_work_free(&w);

    if (be != NULL) {
        be->iface->free(be);
    }

    if (fd != -1) {
        close(fd);
    }

    return NULL;
}


/* the executor's own memory for the largest batch */

static ngx_int_t
ngx_http_infer_work_init(ngx_http_infer_executor_t *ex,
    ngx_http_infer_work_t *w)
{
    size_t                   n;
    ngx_http_infer_model_t  *m;

    m = ex->model;
    n = m->max_batch;

    ngx_memzero(w, sizeof(ngx_http_infer_work_t));

    w->slots = malloc(n * sizeof(uint32_t));
    w->tickets = malloc(n * sizeof(uint64_t));
    w->seqs = malloc(n * sizeof(infer_seq_t));
    w->ids = malloc(n * sizeof(uint64_t));
    w->in = malloc(m->max_batch_tokens * m->model->input.size
                   * sizeof(float));
    w->pos = malloc(m->max_batch_tokens * sizeof(int32_t));
    w->out = malloc(n * m->model->output.size * sizeof(float));

    if (w->slots == NULL || w->tickets == NULL || w->seqs == NULL
        || w->ids == NULL || w->in == NULL || w->pos == NULL
        || w->out == NULL)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_infer_work_free(ngx_http_infer_work_t *w)
{
    infer_runner_free(&w->runner);
    free(w->slots);
    free(w->tickets);
    free(w->seqs);
    free(w->ids);
    free(w->in);
    free(w->pos);
    free(w->out);
}


/*
 * Claims up to max_batch sequences and max_batch_tokens tokens in FIFO
 * order (a request over either limit is refused before it is queued).
 * Once it holds a request it waits, at most batch_timeout after that
 * request was queued, for more to come, but only while some worker is
 * decoding a request into a slot: a lone client pays nothing for the
 * batch timer.  Returns the number of
 * slots claimed, 0 when the executor is to stop.
 */

static ngx_uint_t
ngx_http_infer_claim(ngx_http_infer_executor_t *ex, uint32_t *batch,
    ngx_uint_t *rows)
{
    int64_t                  deadline, now;
    uint32_t                 n, slot, seq;
    ngx_uint_t               nrows, ntok, full;
    ngx_http_infer_slot_t   *s;
    ngx_http_infer_model_t  *m;
    ngx_http_infer_shctx_t  *sh;

    m = ex->model;
    sh = m->sh;
    n = 0;
    nrows = 0;
    ntok = 0;
    deadline = 0;

    ngx_shmtx_lock(&m->shpool->mutex);

    for ( ;; ) {

        full = 0;

        while (sh->queued) {
            slot = sh->fifo[sh->head];
            s = &sh->slots[slot];

            if (s->state == NGX_HTTP_INFER_CANCELLED) {
                ngx_http_infer_slot_free_locked(m, slot);

            } else {
                if (nrows + s->nseqs > m->max_batch
                    || ntok + s->ntokens > m->max_batch_tokens)
                {
                    full = 1;
                    break;
                }

                if (n == 0) {
                    deadline = s->t_enqueue
                               + (int64_t) m->batch_timeout * 1000000;
                }

                s->state = NGX_HTTP_INFER_RUNNING;
                s->executor = ngx_pid;
                batch[n++] = slot;
                nrows += s->nseqs;
                ntok += s->ntokens;
            }

            sh->head = (sh->head + 1) % sh->nslots;
            sh->queued--;
        }

        /* ex->stop changes under the lock only */

        if (n && (full || nrows >= m->max_batch
                  || ntok >= m->max_batch_tokens || sh->filling == 0
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


/*
 * The claimed slots as one ragged batch: each slot's sequences with the
 * lengths its payload gives (a dense model's row is a sequence of one
 * token), the inputs gathered into one matrix (of features, or of a text
 * model's token ids, each with its position in its sequence), the
 * outputs (one row per sequence) scattered back into the slots.
 */

static int
ngx_http_infer_run_batch(ngx_http_infer_executor_t *ex,
    ngx_http_infer_work_t *w, ngx_uint_t n, ngx_uint_t rows)
{
    int                      rc;
    char                     err[INFER_ERRLEN];
    size_t                   isz, osz;
    int64_t                  t_start, t_run, t_end, t_done, queued;
    int32_t                 *lens, p;
    ngx_uint_t               i, b, off, r, tok;
    infer_batch_t            batch;
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

    for (i = 0, off = 0, tok = 0; i < n; i++) {
        s = &sh->slots[w->slots[i]];
        lens = ngx_http_infer_slot_lens(m, w->slots[i]);

        ngx_memcpy(w->in + tok * isz,
                   ngx_http_infer_slot_input(m, w->slots[i]),
                   s->ntokens * isz * sizeof(float));

        for (r = 0; r < s->nseqs; r++) {
            w->seqs[off + r].start = (int32_t) tok;
            w->seqs[off + r].len = lens[r];
            w->seqs[off + r].pos = 0;
            w->seqs[off + r].reserved = 0;
            w->ids[off + r] = s->ticket;

            for (p = 0; p < lens[r]; p++) {
                w->pos[tok + p] = p;
            }

            tok += lens[r];
        }

        off += s->nseqs;
        queued += t_start - s->t_enqueue;
    }

    ngx_memzero(&batch, sizeof(infer_batch_t));
    batch.n_seqs = (int) rows;
    batch.n_tokens = (int) tok;
    batch.seqs = w->seqs;
    batch.ids = w->ids;
    batch.pos = w->pos;
    batch.out = w->out;

    if (m->tokenizer) {
        batch.tokens = (int32_t *) w->in;

    } else {
        batch.x = w->in;
    }

    t_run = ngx_http_infer_now();

    rc = infer_runner_run(&w->runner, &batch, err, sizeof(err));

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, ex->log, 0,
                      "infer: model \"%V\" failed a batch of %ui rows: %s",
                      &m->name, rows, err);
    }

    t_end = ngx_http_infer_now();

    /* the slots are ours while RUNNING: no lock for their data */

    for (i = 0, off = 0; i < n; i++) {
        s = &sh->slots[w->slots[i]];

        if (rc == 0) {
            ngx_memcpy(ngx_http_infer_slot_output(m, w->slots[i]),
                       w->out + off * osz, s->nseqs * osz * sizeof(float));

        } else {
            ngx_cpystrn((u_char *) s->err, (u_char *) err, sizeof(s->err));
        }

        s->failed = (rc != 0);
        s->batch_rows = rows;
        s->t_start = t_start;
        s->t_run = t_run;
        s->t_end = t_end;
        off += s->nseqs;
    }

    t_done = ngx_http_infer_now();

    st = &sh->stats;

    ngx_http_infer_count_batch(st, rows);

    if (m->tokenizer) {
        for (b = 0; b < NGX_HTTP_INFER_TOKEN_BUCKETS - 1; b++) {
            if (tok <= ((ngx_uint_t) 16 << b)) {
                break;
            }
        }

        ngx_http_infer_count(st->batch_tokens[b], 1);
        ngx_http_infer_count(st->token_count, tok);
    }

    ngx_http_infer_count(st->queue_duration_us, queued / 1000);
    ngx_http_infer_count(st->compute_input_duration_us,
                         (t_run - t_start) / 1000);
    ngx_http_infer_count(st->compute_infer_duration_us,
                         (t_end - t_run) / 1000);
    ngx_http_infer_count(st->compute_output_duration_us,
                         (t_done - t_end) / 1000);

    if (rc == 0) {
        ngx_http_infer_count_phases(sh, rows, t_start, t_run, t_end, t_done);
    }

    ngx_shmtx_lock(&m->shpool->mutex);

    for (i = 0; i < n; i++) {
        s = &sh->slots[w->slots[i]];
        s->t_done = t_done;
        w->tickets[i] = s->ticket;

        if (s->state == NGX_HTTP_INFER_CANCELLED) {
            ngx_http_infer_slot_free_locked(m, w->slots[i]);
            w->tickets[i] = 0;
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
    ngx_http_infer_model_t  *m;

    m = ex->model;

    ngx_shmtx_lock(&m->shpool->mutex);

    if (ex->ready) {
        ex->ready = 0;
        ngx_http_infer_ready(m, 0);
    }

    ngx_shmtx_unlock(&m->shpool->mutex);

    ngx_log_error(NGX_LOG_ALERT, ex->log, 0,
                  "infer: executor %ui of model \"%V\" lost its device, "
                  "worker %P exits to be replaced", ex->index, &m->name,
                  ngx_pid);

    if (ngx_http_infer_wakeup_lost(fd) != NGX_OK) {
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
    ngx_int_t                     rc;
    ngx_pid_t                     owner;
    ngx_uint_t                    i, j, k;
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
            msg[k].kind = NGX_HTTP_INFER_WAKE_DONE;
            msg[k].slot = batch[j];
            msg[k].pad = 0;
            msg[k].ticket = tickets[j];

            if (j != i) {
                tickets[j] = 0;
            }

            if (++k == 64) {
                break;
            }
        }

        tickets[i] = 0;

        rc = ngx_http_infer_wakeup_send(fd, owner, msg, k);

        if (rc == NGX_OK) {
            continue;
        }

        if (rc == NGX_DECLINED) {
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
                    ngx_http_infer_slot_free_locked(m, msg[j].slot);
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


/*
 * For work that answers several times (a streamed generation): the
 * executor has put results into the ring in the slot's payload
 * (infer_stream_put(), which publishes them); the owner is told, and its
 * codec's progress() takes them.  The slot stays RUNNING until the work
 * is done.
 */

ngx_int_t
ngx_http_infer_slot_progress(ngx_http_infer_model_t *m, int fd,
    uint32_t slot)
{
    ngx_http_infer_slot_t        *s;
    ngx_http_infer_wakeup_msg_t   msg;

    s = &m->sh->slots[slot];

    msg.zone_id = m->sh->zone_id;
    msg.kind = NGX_HTTP_INFER_WAKE_PROGRESS;
    msg.slot = slot;
    msg.pad = 0;
    msg.ticket = s->ticket;

    return ngx_http_infer_wakeup_send(fd, s->owner, &msg, 1);
}
