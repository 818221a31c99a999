
/*
 * ngx_infer: a model's shared-memory zone and its slots.
 *
 * One zone per model: a FIFO ring of slot numbers, a free stack, the slot
 * headers, and a slab from which each request's payload is allocated,
 * sized by what the request brings.  A zone is mapped before the fork at
 * the same address in every process, so plain pointers into it are
 * valid everywhere.  The zone's slab mutex guards the ring, the stack,
 * the slab and the slot states; a slot's payload belongs to whoever holds
 * the slot in its current state (owner: FILLING and DONE, executor:
 * RUNNING), so it is read and written without the lock.
 *
 * The executors are in ngx_http_infer_executor.c, the wake-ups in
 * ngx_http_infer_wakeup.c.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_infer_module.h"


static size_t ngx_http_infer_zone_fixed(ngx_http_infer_model_t *m);
static size_t ngx_http_infer_payload_layout(ngx_http_infer_model_t *m,
    ngx_uint_t nseqs, ngx_uint_t ntokens, size_t *in_off, size_t *out_off);
static void ngx_http_infer_pid_set(ngx_pid_t *pids, uint32_t *n,
    ngx_uint_t max, ngx_uint_t add);


int64_t
ngx_http_infer_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}


/*
 * The zone's layout, in one place: the fixed part (the context, the ring,
 * the free stack, the slot headers, the statistics of each batch size)
 * that init_zone allocates first, and the room for payloads after it.
 */

static size_t
ngx_http_infer_zone_fixed(ngx_http_infer_model_t *m)
{
    return sizeof(ngx_http_infer_shctx_t)
           + m->queue * (2 * sizeof(uint32_t) + sizeof(ngx_http_infer_slot_t))
           + m->max_batch * sizeof(ngx_http_infer_batch_stat_t);
}


/* a payload: the lengths of the sequences, the inputs, the outputs */

static size_t
ngx_http_infer_payload_layout(ngx_http_infer_model_t *m, ngx_uint_t nseqs,
    ngx_uint_t ntokens, size_t *in_off, size_t *out_off)
{
    size_t  in, out;

    if (m->bpe) {
        /* a generation: its prompt, the most it may generate */
        return ngx_http_infer_llm_payload_size(ntokens, nseqs);
    }

    in = ngx_align(nseqs * sizeof(int32_t), 16);
    out = ngx_align(in + ntokens * m->model->input.size * sizeof(float), 16);

    if (in_off) {
        *in_off = in;
        *out_off = out;
    }

    return out + nseqs * m->model->output.size * sizeof(float);
}


size_t
ngx_http_infer_zone_size(ngx_http_infer_model_t *m)
{
    size_t  size, largest;

    /*
     * Room for a full queue of the largest requests, each rounded up to
     * the slab's pages, and a quarter more, so that requests of mixed
     * sizes fragmenting the slab rarely refuse one that would fit; a
     * payload that finds no room is answered as a full queue is.
     */

    largest = ngx_align(m->bpe ? ngx_http_infer_llm_payload_size(m->ctx,
                                                                 m->ctx)
                               : ngx_http_infer_payload_layout(m,
                                     m->max_batch, m->max_batch_tokens,
                                     NULL, NULL),
                        ngx_pagesize);

    size = ngx_http_infer_zone_fixed(m) + m->queue * largest
           + m->queue * largest / 4;

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

    len = ngx_http_infer_zone_fixed(m);

    p = ngx_slab_alloc(m->shpool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    sh = (ngx_http_infer_shctx_t *) p;
    ngx_memzero(sh, sizeof(ngx_http_infer_shctx_t));
    p += sizeof(ngx_http_infer_shctx_t);

    sh->zone_id = (uint32_t) ((ngx_pid << 16) ^ ngx_random()) | 1;
    sh->nslots = m->queue;
    sh->in_size = m->model->input.size;
    sh->out_size = m->model->output.size;
    sh->next_ticket = 1;

    sh->fifo = (uint32_t *) p;
    p += m->queue * sizeof(uint32_t);
    sh->free = (uint32_t *) p;
    p += m->queue * sizeof(uint32_t);
    sh->slots = (ngx_http_infer_slot_t *) p;
    p += m->queue * sizeof(ngx_http_infer_slot_t);

    sh->nbatch_stats = m->max_batch;
    sh->batch_stats = (ngx_http_infer_batch_stat_t *) p;
    ngx_memzero(sh->batch_stats,
                m->max_batch * sizeof(ngx_http_infer_batch_stat_t));

    /* the stack pops slot 0 first */
    for (i = 0; i < sh->nslots; i++) {
        sh->free[i] = sh->nslots - 1 - i;
        ngx_memzero(&sh->slots[i], sizeof(ngx_http_infer_slot_t));
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
    ngx_http_infer_slot_t  *s;

    s = &m->sh->slots[slot];

    return (float *) (s->payload + s->in_off);
}


float *
ngx_http_infer_slot_output(ngx_http_infer_model_t *m, uint32_t slot)
{
    ngx_http_infer_slot_t  *s;

    s = &m->sh->slots[slot];

    return (float *) (s->payload + s->out_off);
}


int32_t *
ngx_http_infer_slot_lens(ngx_http_infer_model_t *m, uint32_t slot)
{
    return (int32_t *) m->sh->slots[slot].payload;
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
    s->payload = NULL;
    sh->filling++;

    ngx_shmtx_unlock(&m->shpool->mutex);

    ctx->slot = n;
    ctx->ticket = s->ticket;
    m->pending[n] = ctx;

    return NGX_OK;
}


/*
 * The payload of a slot the owner holds (FILLING), once the request says
 * how many sequences and tokens it brings; NGX_DECLINED with err when
 * the slab is full, which is answered as a full queue is.  Every length
 * starts at 1 (an MLP's rows); the caller writes the inputs.
 */

/* a payload of size bytes, laid out by its caller */

ngx_int_t
ngx_http_infer_slot_bytes(ngx_http_infer_model_t *m,
    ngx_http_infer_ctx_t *ctx, size_t size, ngx_http_infer_err_t *err)
{
    ngx_http_infer_slot_t  *s;

    s = &m->sh->slots[ctx->slot];

    ngx_shmtx_lock(&m->shpool->mutex);
    s->payload = ngx_slab_alloc_locked(m->shpool, size);
    ngx_shmtx_unlock(&m->shpool->mutex);

    if (s->payload == NULL) {
        return ngx_http_infer_err(err, NGX_HTTP_SERVICE_UNAVAILABLE, NULL,
                                  NULL, "the queue of model \"%V\" is full, "
                                  "retry later", &m->name);
    }

    s->payload_size = size;

    return NGX_OK;
}


ngx_int_t
ngx_http_infer_slot_payload(ngx_http_infer_model_t *m,
    ngx_http_infer_ctx_t *ctx, ngx_uint_t nseqs, ngx_uint_t ntokens,
    ngx_http_infer_err_t *err)
{
    size_t                  size, in_off = 0, out_off = 0;
    int32_t                *lens;
    ngx_uint_t              i;
    ngx_http_infer_slot_t  *s;

    s = &m->sh->slots[ctx->slot];
    size = ngx_http_infer_payload_layout(m, nseqs, ntokens, &in_off,
                                         &out_off);

    if (ngx_http_infer_slot_bytes(m, ctx, size, err) != NGX_OK) {
        return NGX_DECLINED;
    }

    s->in_off = in_off;
    s->out_off = out_off;
    s->nseqs = nseqs;
    s->ntokens = ntokens;

    lens = (int32_t *) s->payload;

    for (i = 0; i < nseqs; i++) {
        lens[i] = 1;
    }

    return NGX_OK;
}


/*
 * A slot back on the free stack, its payload back in the slab; with the
 * zone locked.  Whoever holds a slot when it is done with calls this:
 * its owner, an executor that finds it cancelled, a reaper.
 */

void
ngx_http_infer_slot_free_locked(ngx_http_infer_model_t *m, uint32_t slot)
{
    ngx_http_infer_slot_t   *s;
    ngx_http_infer_shctx_t  *sh;

    sh = m->sh;
    s = &sh->slots[slot];

    if (s->payload != NULL) {
        ngx_slab_free_locked(m->shpool, s->payload);
        s->payload = NULL;
    }

    s->state = NGX_HTTP_INFER_FREE;
    s->ticket = 0;
    s->executor = 0;
    sh->free[sh->nfree++] = slot;
}


void
ngx_http_infer_slot_enqueue(ngx_http_infer_model_t *m,
    ngx_http_infer_ctx_t *ctx)
{
    ngx_http_infer_slot_t   *s;
    ngx_http_infer_shctx_t  *sh;

    sh = m->sh;
    s = &sh->slots[ctx->slot];

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
        ngx_http_infer_slot_free_locked(m, ctx->slot);
        break;

    default:
        break;
    }

    ngx_shmtx_unlock(&m->shpool->mutex);
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


/* the executors up, by pid: add (1) or take out (0) one of this process */

void
ngx_http_infer_ready(ngx_http_infer_model_t *m, ngx_uint_t add)
{
    ngx_http_infer_pid_set(m->sh->ready_pids, &m->sh->ready,
                           NGX_HTTP_INFER_MAX_EXECUTORS, add);
}


/* a request can be computed: an executor of the model is up */

ngx_uint_t
ngx_http_infer_is_ready(ngx_http_infer_model_t *m)
{
    return __atomic_load_n(&m->sh->ready, __ATOMIC_ACQUIRE) > 0;
}


ngx_uint_t
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
                msg.kind = NGX_HTTP_INFER_WAKE_DONE;
                msg.slot = i;
                msg.pad = 0;
                msg.ticket = s->ticket;

                if (ngx_http_infer_wakeup_send(fd, s->owner, &msg, 1)
                    == NGX_OK)
                {
                    woken++;
                }
            }

            continue;

        default:
            continue;
        }

        ngx_http_infer_slot_free_locked(m, i);
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
