/*
 * The store writer: one thread, its own store connection, batching every
 * write (last seen, audit, registrations, reports) into transactions so
 * that the event loops never wait on the disk.  A report is answered only
 * after the transaction holding it has committed (synchronous=FULL), so a
 * 2xx means the report survives kill -9.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sprov/profile.h"
#include "sprov/store.h"
#include "sprovd/sprovd.h"

struct writer {
	pthread_t	 thread;
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	struct job	*head, *tail;
	atomic_long	 depth;
	long		 urgent;	/* queued jobs someone waits for */
	bool		 stopping;
	struct sp_store	*store;
	struct sp_log	*log;
	void		(*complete)(void *, struct job *);
	void		*complete_arg;
	const struct admin_env *env;
};

static int
append_audit(struct writer *w, const struct job *j)
{
	struct sp_audit a;

	memset(&a, 0, sizeof(a));
	a.when = (time_t)j->when;
	a.event = j->event;
	a.mac = j->mac[0] ? j->mac : NULL;
	a.cert_serial = j->cert_serial[0] ? j->cert_serial : NULL;
	a.ip = j->ip;
	a.route = j->route;
	a.status = j->status;
	a.etag = j->etag[0] ? j->etag : NULL;
	return sp_store_audit_append(w->store, &a);
}

static int
apply(struct writer *w, struct job *j)
{
	struct sp_profile *parsed;
	struct sp_err err;

	switch (j->kind) {
	case JOB_SEEN:
		/* A profile fetch: last seen, and its audit row when named. */
		if (sp_store_device_seen(w->store, j->mac, (time_t)j->when,
		    j->ip, j->user_agent, j->cert_serial,
		    j->etag[0] ? j->etag : NULL) == -1)
			return -1;
		return j->event[0] != '\0' ? append_audit(w, j) : 0;
	case JOB_REGISTER:
		return sp_store_device_put(w->store, j->mac, j->serial[0] ?
		    j->serial : NULL, j->model[0] ? j->model : NULL);
	case JOB_AUDIT:
		return append_audit(w, j);
	case JOB_ADMIN:
		return admin_exec(w->store, w->env, j->method, j->route,
		    j->body, j->bodylen, &j->resp_status, &j->resp,
		    &j->resplen);
	case JOB_REPORT:
		parsed = sp_profile_parse(j->body, j->bodylen, &err);
		j->result = sp_store_report_add(w->store, j->mac,
		    (time_t)j->when, parsed ? "report" : "unparsed", j->body,
		    j->bodylen, parsed);
		sp_profile_free(parsed);
		return j->result;
	}
	return -1;
}

static void
finish(struct writer *w, struct job *batch, int committed)
{
	struct job *j, *next;

	for (j = batch; j != NULL; j = next) {
		next = j->next;
		free(j->body);
		j->body = NULL;
		if ((j->kind == JOB_REPORT || j->kind == JOB_ADMIN) &&
		    w->complete != NULL) {
			if (!committed)
				j->result = -1;
			w->complete(w->complete_arg, j);	/* takes j */
		} else
			free(j);
	}
}

static bool
urgent(const struct job *j)
{
	return j->kind == JOB_REPORT || j->kind == JOB_ADMIN;
}

/*
 * Nobody waits for what is queued (last seen, audit): let more arrive, so
 * that hundreds of requests a second share one commit (one fsync) instead
 * of paying one each.  Ends at once for a report or an admin request, a
 * full batch, or stop.  Called and returns with the lock held.
 */
static void
linger(struct writer *w)
{
	struct timespec until;

	if (w->head == NULL || w->urgent > 0 || w->stopping)
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long)SP_WRITER_LINGER_MS * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	while (w->urgent == 0 && !w->stopping &&
	    atomic_load(&w->depth) < SP_WRITER_BATCH_MAX)
		if (pthread_cond_timedwait(&w->cond, &w->lock, &until) != 0)
			break;
}

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	struct job *batch, *j, *last;
	int n, rc;

	for (;;) {
		pthread_mutex_lock(&w->lock);
		while (w->head == NULL && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		linger(w);
		if ((batch = w->head) == NULL) {	/* stopping, all done */
			pthread_mutex_unlock(&w->lock);
			break;
		}
		/*
		 * Take up to SP_WRITER_BATCH_MAX jobs; an admin request runs alone, with
		 * the transactions it needs itself.
		 */
		for (n = 1, j = batch; j->kind != JOB_ADMIN && j->next != NULL &&
		    j->next->kind != JOB_ADMIN && n < SP_WRITER_BATCH_MAX; n++)
			j = j->next;
		w->head = j->next;
		if (w->head == NULL)
			w->tail = NULL;
		atomic_fetch_sub(&w->depth, n);
		for (last = batch; ; last = last->next) {
			if (urgent(last))
				w->urgent--;
			if (last == j)
				break;
		}
		j->next = NULL;
		pthread_mutex_unlock(&w->lock);
		if (batch->kind == JOB_ADMIN) {
			apply(w, batch);
			finish(w, batch, 1);
			continue;
		}
		rc = sp_store_begin(w->store);
		/* One bad job must not sink the others: log it, go on. */
		for (j = batch; rc == 0 && j != NULL; j = j->next)
			if (apply(w, j) == -1)
				sp_log(w->log, SP_LOG_WARN, "store: %s",
				    sp_store_error(w->store));
		if (rc == 0 && sp_store_commit(w->store) == 0)
			finish(w, batch, 1);
		else {
			sp_log(w->log, SP_LOG_ERR, "store commit failed: %s",
			    sp_store_error(w->store));
			sp_store_rollback(w->store);
			finish(w, batch, 0);
		}
	}
	return NULL;
}

struct writer *
writer_start(const char *url, struct sp_log *log, struct sp_err *err)
{
	struct writer *w;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		sp_err_set(err, "out of memory");
		return NULL;
	}
	if ((w->store = sp_store_open(url, err)) == NULL) {
		free(w);
		return NULL;
	}
	w->log = log;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		sp_err_set(err, "cannot start the store writer");
		sp_store_close(w->store);
		free(w);
		return NULL;
	}
	return w;
}

void
writer_set_completion(struct writer *w, void (*fn)(void *, struct job *),
    void *arg)
{
	pthread_mutex_lock(&w->lock);
	w->complete = fn;
	w->complete_arg = arg;
	pthread_mutex_unlock(&w->lock);
}

void
writer_set_admin_env(struct writer *w, const struct admin_env *env)
{
	pthread_mutex_lock(&w->lock);
	w->env = env;
	pthread_mutex_unlock(&w->lock);
}

void
writer_submit(struct writer *w, struct job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->tail != NULL)
		w->tail->next = j;
	else
		w->head = j;
	w->tail = j;
	if (urgent(j))
		w->urgent++;
	/* Wake the writer only when it has something to do now. */
	if (atomic_fetch_add(&w->depth, 1) == 0 || urgent(j) ||
	    atomic_load(&w->depth) >= SP_WRITER_BATCH_MAX)
		pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

long
writer_depth(struct writer *w)
{
	return atomic_load(&w->depth);
}

void
writer_stop(struct writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	sp_store_close(w->store);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
}
