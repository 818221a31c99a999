
/*
 * ngx_infer: a decoder's executor loop (continuous batching).
 *
 * The executor of a GGUF decoder does not claim a batch and answer it:
 * it keeps sequences running on its KV cache (kernels/infer_gen.c) and
 * runs one step at a time over all of them.  Between steps it takes new
 * requests from the queue (as many as it has sequences for: the rest
 * wait in the zone's FIFO, where other executors may take them), drops
 * those whose client went away (their slot is CANCELLED: the sequence
 * and its blocks are freed before the next step), and after each step
 * samples the next token of every sequence that has logits, puts it in
 * the stream of the request's slot and wakes its owner ("progress").  A
 * sequence that ends (an end of generation id, max_tokens, the context)
 * leaves at once: its slot is DONE and its owner woken.  The slot of a
 * generation is the executor's from the moment it takes it until DONE.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_infer_module.h"
#include "infer_gen.h"
#include "infer_openai_chat.h"
#include "infer_runner.h"
#include "infer_stream.h"


typedef struct {
    infer_gen_seq_t             seq;
    infer_sampler_t             sampler;
    uint32_t                    slot;
    uint64_t                    ticket;
    ngx_http_infer_gen_t       *hdr;
    infer_stream_t             *stream;
    int32_t                     n_gen;
    int32_t                     finish;
    int64_t                     t_last;
    unsigned                    active:1;
    unsigned                    woken:1;
    unsigned                    done:1;
    unsigned                    failed:1;
} ngx_http_infer_gseq_t;


typedef struct {
    ngx_http_infer_model_t     *model;
    ngx_log_t                  *log;
    int                         fd;
    infer_gen_t                 gen;
    ngx_http_infer_gseq_t      *seqs;
    ngx_uint_t                  nseqs;
    ngx_uint_t                  active;
    void                       *scratch;
    infer_gen_seq_t           **ready;
    uint64_t                    shown_running;   /* in the gauges */
    uint64_t                    shown_waiting;
    uint64_t                    shown_used;
} ngx_http_infer_gloop_t;


static ngx_int_t ngx_http_infer_gen_claim(ngx_http_infer_gloop_t *gl,
    volatile ngx_uint_t *stop, const int64_t *drain_until);
static void ngx_http_infer_gen_start(ngx_http_infer_gloop_t *gl,
    ngx_http_infer_gseq_t *g, uint32_t slot);
static void ngx_http_infer_gen_cancelled(ngx_http_infer_gloop_t *gl);
static void ngx_http_infer_gen_token(ngx_http_infer_gloop_t *gl,
    ngx_http_infer_gseq_t *g);
static void ngx_http_infer_gen_end(ngx_http_infer_gloop_t *gl,
    ngx_http_infer_gseq_t *g);
static void ngx_http_infer_gen_fail(ngx_http_infer_gloop_t *gl,
    const char *err);
static void ngx_http_infer_gen_gauges(ngx_http_infer_gloop_t *gl);


void
ngx_http_infer_generate(ngx_http_infer_model_t *m, ngx_log_t *log,
    void *runner, int fd, volatile ngx_uint_t *stop,
    const int64_t *drain_until)
{
    int                      rc, n_ready, k;
    char                     err[INFER_ERRLEN];
    size_t                   ctx;
    ngx_uint_t               i;
    ngx_http_infer_gseq_t   *g;
    ngx_http_infer_gloop_t   gl;

    ngx_memzero(&gl, sizeof(ngx_http_infer_gloop_t));
    gl.model = m;
    gl.log = log;
    gl.fd = fd;

    /* running ones and as many again waiting for blocks */
    gl.nseqs = 2 * m->max_batch;
    ctx = m->ctx;

    gl.seqs = calloc(gl.nseqs, sizeof(ngx_http_infer_gseq_t));
    gl.ready = calloc(m->max_batch, sizeof(infer_gen_seq_t *));
    gl.scratch = malloc(infer_sample_scratch_size((int32_t) m->vocab));

    if (gl.seqs == NULL || gl.ready == NULL || gl.scratch == NULL) {
        ngx_log_error(NGX_LOG_ALERT, log, 0, "infer: model \"%V\": out of "
                      "memory for %ui sequences", &m->name, gl.nseqs);
        goto done;
    }

    for (i = 0; i < gl.nseqs; i++) {
        g = &gl.seqs[i];
        g->seq.tokens = malloc(ctx * sizeof(int32_t));
        g->seq.table = malloc((ctx / 16 + 2) * sizeof(int32_t));
        g->seq.data = g;

        if (g->seq.tokens == NULL || g->seq.table == NULL) {
            ngx_log_error(NGX_LOG_ALERT, log, 0, "infer: model \"%V\": out "
                          "of memory for %ui sequences", &m->name,
                          gl.nseqs);
            goto done;
        }
    }

    if (infer_gen_init(&gl.gen, runner, (int) m->kv_blocks, 16, (int) ctx,
                       (int) m->max_batch, (int) m->max_batch_tokens,
                       (int) gl.nseqs, err, sizeof(err))
        != 0)
    {
        ngx_log_error(NGX_LOG_ALERT, log, 0, "infer: model \"%V\": %s",
                      &m->name, err);
        goto done;
    }

    ngx_http_infer_count(m->sh->stats.kv_blocks_total, m->kv_blocks);

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "infer: model \"%V\": %s decoder, vocab %L, chat template "
                  "%s, %ui end ids, KV cache of %ui blocks of 16 positions, "
                  "ctx %ui", &m->name, m->model->arch->name, m->vocab,
                  m->chat->family, m->n_eog, m->kv_blocks, m->ctx);

    for ( ;; ) {
        if (ngx_http_infer_gen_claim(&gl, stop, drain_until) != NGX_OK) {
            break;
        }

        ngx_http_infer_gen_cancelled(&gl);

        rc = infer_gen_step(&gl.gen, gl.ready, &n_ready, err, sizeof(err));

        if (rc != 0) {
            ngx_log_error(NGX_LOG_ERR, log, 0, "infer: model \"%V\" failed "
                          "a step of %ui sequences: %s", &m->name,
                          gl.active, err);
            ngx_http_infer_gen_fail(&gl, err);
            continue;
        }

        if (gl.gen.last_seqs) {
            ngx_http_infer_count_batch(&m->sh->stats,
                                       (ngx_uint_t) gl.gen.last_seqs);
            ngx_http_infer_count(m->sh->stats.token_count,
                                 gl.gen.last_tokens);
        }

        for (k = 0; k < n_ready; k++) {
            ngx_http_infer_gen_token(&gl, gl.ready[k]->data);
        }

        for (i = 0; i < gl.nseqs; i++) {
            g = &gl.seqs[i];

            if (!g->active) {
                continue;
            }

            if (g->done) {
                ngx_http_infer_gen_end(&gl, g);

            } else if (g->woken) {
                g->woken = 0;

                if (ngx_http_infer_slot_progress(m, fd, g->slot)
                    == NGX_DECLINED)
                {
                    /* the owner is gone (killed): nobody reads it */
                    ngx_http_infer_count(m->sh->stats.cancellations, 1);
                    g->done = 1;
                    ngx_http_infer_gen_end(&gl, g);
                }
            }
        }

        if (gl.gen.cached_tokens) {
            ngx_http_infer_count(m->sh->stats.prompt_tokens_cached,
                                 gl.gen.cached_tokens);
            gl.gen.cached_tokens = 0;
        }

        if (gl.gen.preemptions) {
            ngx_http_infer_count(m->sh->stats.preemptions,
                                 gl.gen.preemptions);
            gl.gen.preemptions = 0;
        }

        ngx_http_infer_gen_gauges(&gl);
    }

    /* what is still running is answered with an error, not left */
    ngx_http_infer_gen_fail(&gl, "the server is shutting down");
    ngx_http_infer_gen_gauges(&gl);
    (void) __atomic_sub_fetch(&m->sh->stats.kv_blocks_total, m->kv_blocks,
                              __ATOMIC_RELAXED);
    infer_gen_free(&gl.gen);

done:

    for (i = 0; gl.seqs && i < gl.nseqs; i++) {
        free(gl.seqs[i].seq.tokens);
        free(gl.seqs[i].seq.table);
    }

    free(gl.seqs);
    free(gl.ready);
    free(gl.scratch);
}


/*
 * Takes queued slots while it has sequences for them; with nothing
 * running, sleeps until a request is queued.  NGX_DONE when the executor
 * is to stop (and nothing of its own runs).
 */

static ngx_int_t
ngx_http_infer_gen_claim(ngx_http_infer_gloop_t *gl,
    volatile ngx_uint_t *stop, const int64_t *drain_until)
{
    int64_t                  now, wait;
    uint32_t                 slot, seq;
    ngx_uint_t               i;
    ngx_http_infer_slot_t   *s;
    ngx_http_infer_model_t  *m;
    ngx_http_infer_shctx_t  *sh;

    m = gl->model;
    sh = m->sh;

    ngx_shmtx_lock(&m->shpool->mutex);

    for ( ;; ) {
        now = ngx_http_infer_now();

        if (*stop && now >= *drain_until) {
            /* what still runs is failed by the caller */
            ngx_shmtx_unlock(&m->shpool->mutex);
            return NGX_DONE;
        }

        /*
         * Stopping, an executor leaves new requests to the others, if
         * any is up, and finishes its own
         */
        for (i = 0; sh->queued && i < gl->nseqs && !(*stop && sh->ready);
             i++)
        {
            if (gl->seqs[i].active) {
                continue;
            }

            slot = sh->fifo[sh->head];
            s = &sh->slots[slot];
            sh->head = (sh->head + 1) % sh->nslots;
            sh->queued--;

            if (s->state == NGX_HTTP_INFER_CANCELLED) {
                ngx_http_infer_slot_free_locked(m, slot);
                ngx_http_infer_count(sh->stats.cancellations, 1);
                continue;
            }

            s->state = NGX_HTTP_INFER_RUNNING;
            s->executor = ngx_pid;
            s->t_start = ngx_http_infer_now();

            ngx_http_infer_gen_start(gl, &gl->seqs[i], slot);
        }

        if (gl->active) {
            break;
        }

        if (*stop) {
            if (sh->ready || sh->attached == 0 || now >= *drain_until) {
                ngx_shmtx_unlock(&m->shpool->mutex);
                return NGX_DONE;
            }

            /* draining: attached workers may yet queue requests */
            wait = 10000000;

        } else {
            wait = 0;
        }

        sh->sleepers++;
        seq = sh->seq;

        ngx_shmtx_unlock(&m->shpool->mutex);

        ngx_http_infer_futex_wait(&sh->seq, seq, wait);

        ngx_shmtx_lock(&m->shpool->mutex);

        sh->sleepers--;
    }

    ngx_shmtx_unlock(&m->shpool->mutex);

    return NGX_OK;
}


/* a claimed slot as a sequence of the engine; with the zone locked */

static void
ngx_http_infer_gen_start(ngx_http_infer_gloop_t *gl,
    ngx_http_infer_gseq_t *g, uint32_t slot)
{
    int32_t                 *tokens, *table, *ring;
    uint32_t                 k, produced;
    ngx_http_infer_slot_t   *s;
    ngx_http_infer_model_t  *m;

    m = gl->model;
    s = &m->sh->slots[slot];

    tokens = g->seq.tokens;
    table = g->seq.table;
    ngx_memzero(g, sizeof(ngx_http_infer_gseq_t));
    g->seq.tokens = tokens;
    g->seq.table = table;
    g->seq.data = g;

    g->slot = slot;
    g->ticket = s->ticket;
    g->hdr = (ngx_http_infer_gen_t *) s->payload;
    g->stream = (infer_stream_t *) (s->payload + s->out_off);
    g->active = 1;
    gl->active++;

    ngx_memcpy(tokens, s->payload + s->in_off, s->ntokens * sizeof(int32_t));

    g->seq.id = s->ticket;
    g->seq.n_prompt = (int32_t) s->ntokens;
    g->seq.n_tokens = (int32_t) s->ntokens;
    g->seq.cap = (int32_t) m->ctx;

    if (infer_sampler_init(&g->sampler, &g->hdr->sampling,
                           (int32_t) m->vocab)
        != 0)
    {
        ngx_cpystrn((u_char *) s->err, (u_char *) "out of memory for the "
                    "sampler", sizeof(s->err));
        g->failed = 1;
        g->done = 1;
        return;
    }

    /*
     * A generation queued again after its executor died: what it had
     * made is in the stream (which never wraps), the owner has sent some
     * of it; it goes on from there, its tokens computed again as a
     * prompt, the penalties counting them (a sampled answer's generator
     * starts afresh: its draws from here differ from the lost ones')
     */
    produced = (uint32_t) __atomic_load_n(&g->stream->produced,
                                          __ATOMIC_ACQUIRE);

    if (produced > 0) {
        ring = (int32_t *) infer_stream_data(g->stream);

        for (k = 0; k < produced
                    && g->seq.n_tokens < g->seq.cap; k++)
        {
            tokens[g->seq.n_tokens++] = ring[k];
            (void) infer_sampler_accept(&g->sampler, ring[k]);
        }

        g->n_gen = (int32_t) produced;
        g->t_last = ngx_http_infer_now();

        if (g->n_gen >= g->hdr->max_new || g->seq.n_tokens >= g->seq.cap) {
            g->finish = INFER_OAI_FINISH_LENGTH;
            g->done = 1;
            return;
        }
    }

    if (infer_gen_add(&gl->gen, &g->seq) != 0) {
        /* the request path checked the prompt against the context */
        ngx_cpystrn((u_char *) s->err, (u_char *) "the prompt does not fit "
                    "the KV cache", sizeof(s->err));
        g->failed = 1;
        g->done = 1;
        return;
    }

    ngx_http_infer_count(m->sh->stats.prompt_tokens, s->ntokens);
}


/* sequences whose client went away leave before the next step */

static void
ngx_http_infer_gen_cancelled(ngx_http_infer_gloop_t *gl)
{
    ngx_uint_t               i;
    ngx_http_infer_gseq_t   *g;
    ngx_http_infer_model_t  *m;

    m = gl->model;

    for (i = 0; i < gl->nseqs; i++) {
        g = &gl->seqs[i];

        if (g->active && !g->done
            && __atomic_load_n(&m->sh->slots[g->slot].state,
                               __ATOMIC_ACQUIRE)
               == NGX_HTTP_INFER_CANCELLED)
        {
            ngx_http_infer_count(m->sh->stats.cancellations, 1);
            g->done = 1;
            ngx_http_infer_gen_end(gl, g);
        }
    }
}


/* the next token of a sequence that has logits */

static void
ngx_http_infer_gen_token(ngx_http_infer_gloop_t *gl, ngx_http_infer_gseq_t *g)
{
    int32_t                  tok;
    int64_t                  now;
    ngx_uint_t               i, eog;
    ngx_http_infer_stats_t  *st;
    ngx_http_infer_model_t  *m;

    m = gl->model;
    st = &m->sh->stats;

    /* the engine's logits row is ours until the next step */
    tok = infer_sampler_next(&g->sampler, (float *) g->seq.logits,
                             gl->scratch);
    (void) infer_sampler_accept(&g->sampler, tok);

    now = ngx_http_infer_now();

    if (g->n_gen == 0) {
        g->hdr->t_first = now;
        ngx_http_infer_count_time(st->ttft, &st->ttft_sum_us,
                                  now - m->sh->slots[g->slot].t_enqueue);

    } else {
        ngx_http_infer_count_time(st->itl, &st->itl_sum_us, now - g->t_last);
    }

    g->t_last = now;

    for (eog = 0, i = 0; i < m->n_eog; i++) {
        if (tok == m->eog[i]) {
            eog = !g->hdr->ignore_eos;
            break;
        }
    }

    if (eog) {
        g->finish = INFER_OAI_FINISH_STOP;
        g->done = 1;
        g->woken = 1;
        return;
    }

    /* the stream has room for max_new units: it never refuses one */
    (void) infer_stream_put(g->stream, &tok, 1);
    g->n_gen++;
    g->woken = 1;
    ngx_http_infer_count(st->generated_tokens, 1);

    if (g->n_gen >= g->hdr->max_new || g->seq.n_tokens >= g->seq.cap) {
        g->finish = INFER_OAI_FINISH_LENGTH;
        g->done = 1;
        return;
    }

    infer_gen_append(&g->seq, tok);
}


/* a sequence leaves: its blocks are freed, its slot is done or freed */

static void
ngx_http_infer_gen_end(ngx_http_infer_gloop_t *gl, ngx_http_infer_gseq_t *g)
{
    ngx_http_infer_slot_t        *s;
    ngx_http_infer_model_t       *m;
    ngx_http_infer_wakeup_msg_t   msg;

    m = gl->model;
    s = &m->sh->slots[g->slot];

    if (g->seq.state != INFER_GEN_REMOVED && g->seq.cap) {
        infer_gen_remove(&gl->gen, &g->seq);
    }

    infer_sampler_free(&g->sampler);

    g->hdr->n_gen = g->n_gen;
    g->hdr->finish = g->finish;
    infer_stream_finish(g->stream);

    s->failed = g->failed;
    s->batch_rows = (uint32_t) gl->gen.n_running + 1;
    s->t_end = ngx_http_infer_now();

    g->active = 0;
    gl->active--;

    ngx_shmtx_lock(&m->shpool->mutex);

    if (s->state == NGX_HTTP_INFER_CANCELLED) {
        ngx_http_infer_slot_free_locked(m, g->slot);
        ngx_shmtx_unlock(&m->shpool->mutex);
        return;
    }

    s->state = NGX_HTTP_INFER_DONE;

    ngx_shmtx_unlock(&m->shpool->mutex);

    msg.zone_id = m->sh->zone_id;
    msg.kind = NGX_HTTP_INFER_WAKE_DONE;
    msg.slot = g->slot;
    msg.pad = 0;
    msg.ticket = g->ticket;

    if (ngx_http_infer_wakeup_send(gl->fd, s->owner, &msg, 1)
        == NGX_DECLINED)
    {
        /* the owner is gone: nobody else will free it */
        ngx_shmtx_lock(&m->shpool->mutex);

        if (s->ticket == g->ticket && s->state == NGX_HTTP_INFER_DONE) {
            ngx_http_infer_slot_free_locked(m, g->slot);
        }

        ngx_shmtx_unlock(&m->shpool->mutex);
    }
}


/* a step failed, or the executor stops: every sequence ends in error */

static void
ngx_http_infer_gen_fail(ngx_http_infer_gloop_t *gl, const char *err)
{
    ngx_uint_t               i;
    ngx_http_infer_gseq_t   *g;

    for (i = 0; i < gl->nseqs; i++) {
        g = &gl->seqs[i];

        if (!g->active) {
            continue;
        }

        ngx_cpystrn((u_char *) gl->model->sh->slots[g->slot].err,
                    (u_char *) err,
                    sizeof(gl->model->sh->slots[g->slot].err));
        g->failed = 1;
        g->done = 1;
        ngx_http_infer_gen_end(gl, g);
    }
}


/* this executor's share of the gauges: running sequences, used blocks */

static void
ngx_http_infer_gen_gauges(ngx_http_infer_gloop_t *gl)
{
    uint64_t                 running, waiting, used;
    ngx_http_infer_stats_t  *st;

    st = &gl->model->sh->stats;
    running = (uint64_t) gl->gen.n_running;
    waiting = (uint64_t) gl->gen.n_waiting;
    used = (uint64_t) (gl->gen.n_blocks - gl->gen.n_free);

    if (running != gl->shown_running) {
        (void) __atomic_add_fetch(&st->running,
                                  running - gl->shown_running,
                                  __ATOMIC_RELAXED);
        gl->shown_running = running;
    }

    if (waiting != gl->shown_waiting) {
        (void) __atomic_add_fetch(&st->waiting,
                                  waiting - gl->shown_waiting,
                                  __ATOMIC_RELAXED);
        gl->shown_waiting = waiting;
    }

    if (used != gl->shown_used) {
        (void) __atomic_add_fetch(&st->kv_blocks_used,
                                  used - gl->shown_used, __ATOMIC_RELAXED);
        gl->shown_used = used;
    }
}
