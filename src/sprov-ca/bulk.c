/*
 * sprov-ca issue-devices: bulk issuance.
 *
 * The output directory belongs to one batch (one CSV): DIR/.sprov-batch
 * records the CSV's SHA-256 and the device CA.  Devices are grouped in
 * shards by the last 2 or 3 hex digits of their MAC (limits.h); a worker
 * builds a shard in DIR/.tmp-<shard>/ and renames it to DIR/<shard>/ when every
 * identity in it is written, so an interruption leaves whole shards or
 * nothing.  Files are not fsync'ed one by one (that would cost more than
 * the cryptography); one syncfs() makes the batch durable before the index
 * records it, in one transaction.  A rerun of the same CSV into the same
 * directory adopts the finished shards and issues the rest.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "sprov/buf.h"
#include "sprov/ca.h"
#include "sprov/csv.h"
#include "sprov/devcert.h"
#include "sprov/fsutil.h"
#include "sprov/str.h"
#include "sprov-ca/sprov-ca.h"

#define MANIFEST	".sprov-batch"
#define NSHARDS_MAX	(1 << (4 * SP_SHARD_HEX_MAX))

struct item {
	struct sp_device_row	*row;
	unsigned		 shard;
	struct sp_ca_rec	 rec;
	bool			 recorded;	/* already in the index */
};

struct shard {
	size_t		 start, count;	/* range in the sorted items */
	bool		 done;		/* finished by an earlier run */
};

struct bulk {
	const char		*dir;
	struct item		*items;
	size_t			 nitems;
	struct shard		 shards[NSHARDS_MAX];
	unsigned		 hex;		/* shard name width */
	unsigned		 nshards;
	struct sp_issuer	*issuer;	/* template, duplicated per job */
	enum sp_keytype		 keytype;
	int			 days;
	atomic_uint		 next;		/* next shard to take */
	atomic_size_t		 progress;	/* devices finished */
	atomic_int		 failed;
	atomic_int		 finished;	/* workers that returned */
	pthread_mutex_t		 lock;		/* err, doneq */
	pthread_cond_t		 cond;		/* a shard finished */
	unsigned		*doneq;		/* finished shards, FIFO */
	size_t			 dq_head, dq_tail;
	char			 err[SP_ERR_MAX];
};

static unsigned
shard_of(const char *mac, unsigned hex)
{
	unsigned v = 0;
	unsigned i;

	for (i = SP_MAC_HEXLEN - hex; i < SP_MAC_HEXLEN; i++)
		v = v * 16 + (unsigned)(mac[i] <= '9' ? mac[i] - '0' :
		    mac[i] - 'a' + 10);
	return v;
}

/* DIR/<shard> or, with tmp, DIR/.tmp-<shard>. */
static void
shard_path(const char *dir, unsigned hex, unsigned s, bool tmp, char *dst,
    size_t dstsz)
{
	snprintf(dst, dstsz, "%s/%s%0*x", dir, tmp ? ".tmp-" : "", (int)hex,
	    s);
}

static int
cmp_item(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->shard != y->shard)
		return x->shard < y->shard ? -1 : 1;
	return strcmp(x->row->mac, y->row->mac);
}

static void
bulk_fail(struct bulk *b, const char *msg)
{
	pthread_mutex_lock(&b->lock);
	if (!atomic_load(&b->failed))
		snprintf(b->err, sizeof(b->err), "%s", msg);
	atomic_store(&b->failed, 1);
	pthread_mutex_unlock(&b->lock);
}

static int
write_file(const char *dir, const char *mac, const char *ext,
    const struct sp_buf *data, mode_t mode, struct sp_err *err)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s.%s", dir, mac, ext);
	return sp_fs_write_new(path, data->data, data->len, mode,
	    SP_FS_NOSYNC, err);
}

static int
issue_one(struct sp_devtpl *tpl, struct sp_keygen *kg, const char *tmpdir,
    struct item *it, struct sp_devcert *dc, struct sp_buf *kb,
    struct sp_buf *cb, struct sp_err *err)
{
	struct sp_device_row *r = it->row;
	const char *serial = r->serial[0] ? r->serial : NULL;
	const char *model = r->model[0] ? r->model : NULL;
	struct sp_ca_rec *rec = &it->rec;
	char subject[256];
	EVP_PKEY *k = NULL;
	int rc = -1;

	sp_buf_reset(kb);
	sp_buf_reset(cb);
	if ((k = sp_keygen_run(kg, err)) == NULL)
		goto out;
	if (sp_devtpl_issue(tpl, r->mac, serial, model, k, dc, err) == -1)
		goto out;
	if (sp_devcert_key_pem(dc, k, kb, err) == -1)
		goto out;
	if (sp_x509_pem("CERTIFICATE", dc->der, dc->derlen, cb) == -1) {
		sp_err_set(err, "certificate too large");
		goto out;
	}
	if (write_file(tmpdir, r->mac, "key", kb, 0600, err) == -1 ||
	    write_file(tmpdir, r->mac, "crt", cb, 0644, err) == -1)
		goto out;
	/* What the index keeps, straight from the template's output. */
	memset(rec, 0, sizeof(*rec));
	rec->kind = SP_KIND_DEVICE;
	rec->issuer = SP_CA_DEVICE;
	snprintf(rec->serial, sizeof(rec->serial), "%s", dc->serial);
	snprintf(rec->mac, sizeof(rec->mac), "%s", r->mac);
	snprintf(rec->cn, sizeof(rec->cn), "%s", r->mac);
	rec->not_before = dc->not_before;
	rec->not_after = dc->not_after;
	sp_devcert_subject(r->mac, serial, model, subject, sizeof(subject));
	if ((rec->subject = strdup(subject)) == NULL ||
	    (rec->der = OPENSSL_malloc(dc->derlen)) == NULL) {
		sp_err_set(err, "out of memory");
		goto out;
	}
	memcpy(rec->der, dc->der, dc->derlen);
	rec->derlen = (int)dc->derlen;
	rc = 0;
out:
	EVP_PKEY_free(k);
	return rc;
}

static void *
worker(void *arg)
{
	struct bulk *b = arg;
	struct sp_issuer *is = NULL;
	struct sp_keygen *kg = NULL;
	struct sp_devtpl *tpl = NULL;
	struct sp_devcert *dc = NULL;
	struct sp_buf kb, cb;
	struct sp_err err;
	char tmp[PATH_MAX], fin[PATH_MAX], msg[SP_ERR_MAX + 64];
	unsigned s;
	size_t i;

	sp_buf_init(&kb, 1 << 16);
	kb.secret = 1;
	sp_buf_init(&cb, 1 << 16);
	if ((is = sp_issuer_dup(b->issuer, &err)) == NULL ||
	    (tpl = sp_devtpl_new(is, b->days, &err)) == NULL ||
	    (kg = sp_keygen_new(b->keytype, &err)) == NULL) {
		bulk_fail(b, err.msg);
		goto out;
	}
	if ((dc = malloc(sizeof(*dc))) == NULL) {
		bulk_fail(b, "out of memory");
		goto out;
	}
	while (!atomic_load(&b->failed) &&
	    (s = atomic_fetch_add(&b->next, 1)) < b->nshards) {
		struct shard *sh = &b->shards[s];

		if (sh->count == 0 || sh->done)
			continue;
		shard_path(b->dir, b->hex, s, true, tmp, sizeof(tmp));
		shard_path(b->dir, b->hex, s, false, fin, sizeof(fin));
		if (mkdir(tmp, 0755) == -1) {
			snprintf(msg, sizeof(msg), "%s: %s", tmp,
			    strerror(errno));
			bulk_fail(b, msg);
			break;
		}
		for (i = sh->start; i < sh->start + sh->count; i++) {
			if (issue_one(tpl, kg, tmp, &b->items[i], dc, &kb, &cb,
			    &err) == -1) {
				snprintf(msg, sizeof(msg), "line %zu (%s): %s",
				    b->items[i].row->line,
				    b->items[i].row->mac, err.msg);
				bulk_fail(b, msg);
				goto out;
			}
			atomic_fetch_add(&b->progress, 1);
		}
		if (rename(tmp, fin) == -1) {
			snprintf(msg, sizeof(msg), "%s: %s", fin,
			    strerror(errno));
			bulk_fail(b, msg);
			break;
		}
		pthread_mutex_lock(&b->lock);
		b->doneq[b->dq_tail++] = s;
		pthread_cond_signal(&b->cond);
		pthread_mutex_unlock(&b->lock);
	}
out:
	sp_buf_release(&kb);
	sp_buf_release(&cb);
	free(dc);
	sp_keygen_free(kg);
	sp_devtpl_free(tpl);
	sp_issuer_free(is);
	pthread_mutex_lock(&b->lock);
	atomic_fetch_add(&b->finished, 1);
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

static void
progress_bar(size_t done, size_t total, double secs)
{
	char bar[41];
	size_t fill = total ? done * 40 / total : 40, i;
	double rate = secs > 0 ? (double)done / secs : 0;

	for (i = 0; i < 40; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[40] = '\0';
	fprintf(stderr, "\r[%s] %3zu%% %zu/%zu  %.0f/s  ETA %.0fs ", bar,
	    total ? done * 100 / total : 100, done, total, rate,
	    rate > 0 ? (double)(total - done) / rate : 0.0);
}

static double
now_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* SHA-256 of the CSV and of the device CA, hex, as the batch's identity. */
static int
batch_identity(const char *csv, size_t len, X509 *ca, char *out,
    size_t outsz)
{
	unsigned char h[SHA256_DIGEST_LENGTH], c[EVP_MAX_MD_SIZE];
	char hh[2 * SHA256_DIGEST_LENGTH + 1], ch[2 * EVP_MAX_MD_SIZE + 1];
	unsigned int clen;

	if (EVP_Digest(csv, len, h, NULL, EVP_sha256(), NULL) != 1 ||
	    X509_digest(ca, EVP_sha256(), c, &clen) != 1)
		return -1;
	sp_str_hex(hh, h, sizeof(h));
	sp_str_hex(ch, c, clen);
	snprintf(out, outsz, "sprov-ca batch 1\ncsv-sha256 %s\n"
	    "device-ca-sha256 %s\n", hh, ch);
	return 0;
}

/*
 * Claims the output directory for this batch: creates it, or checks that
 * it already belongs to the same batch (resume).  *resume tells which.
 */
static int
claim_dir(const char *dir, const char *ident, bool *resume)
{
	char path[PATH_MAX], *old = NULL;
	struct sp_err err;
	struct stat st;
	size_t len;
	DIR *d;
	struct dirent *de;
	int entries = 0;

	*resume = false;
	snprintf(path, sizeof(path), "%s/%s", dir, MANIFEST);
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return fail("%s exists and is not a directory", dir);
		if (sp_fs_read(path, 4096, &old, &len, &err) == 0) {
			int same = strcmp(old, ident) == 0;

			free(old);
			if (!same)
				return fail("%s holds another batch (other CSV "
				    "or device CA); give a new directory",
				    dir);
			*resume = true;
			return 0;
		}
		if ((d = opendir(dir)) == NULL)
			return fail("%s: %s", dir, strerror(errno));
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				entries++;
		closedir(d);
		if (entries > 0)
			return fail("%s is not empty and holds no batch; give "
			    "a new or empty directory", dir);
	} else if (sp_fs_mkdirs(dir, 0755, &err) == -1)
		return fail("%s", err.msg);
	if (sp_fs_write_atomic(path, ident, strlen(ident), 0644, &err) == -1)
		return fail("%s", err.msg);
	return 0;
}

/* Removes unfinished shards left by an interrupted run. */
static int
clean_tmp(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct sp_err err;
	DIR *d;
	int rc = 0;

	if ((d = opendir(dir)) == NULL)
		return fail("%s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, ".tmp-", 5) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (sp_fs_rmtree(path, &err) == -1)
			rc = fail("%s", err.msg);
	}
	closedir(d);
	return rc;
}

static const struct sp_ca_macserial *
find_valid(const struct sp_ca_macserial *v, size_t n, const char *mac)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(v[mid].mac, mac);

		if (d == 0)
			return &v[mid];
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * Adopts a shard finished by an earlier run: every identity must be there,
 * issued by this device CA, for the MAC of its row.
 */
static int
adopt_shard(struct bulk *b, struct shard *sh, X509 *ca,
    const struct sp_ca_macserial *valid, size_t nvalid, long *nerr)
{
	char path[PATH_MAX], sdir[PATH_MAX];
	struct sp_identity id;
	struct sp_err err;
	EVP_PKEY *capub = X509_get0_pubkey(ca);
	size_t i;

	for (i = sh->start; i < sh->start + sh->count; i++) {
		struct item *it = &b->items[i];
		const struct sp_ca_macserial *v;
		X509 *x;

		shard_path(b->dir, b->hex, it->shard, false, sdir,
		    sizeof(sdir));
		snprintf(path, sizeof(path), "%s/%s.key", sdir, it->row->mac);
		if (access(path, R_OK) == -1) {
			fprintf(stderr, "%s: missing from a finished shard\n",
			    path);
			(*nerr)++;
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s.crt", sdir, it->row->mac);
		if ((x = sp_x509_cert_load(path, &err)) == NULL) {
			fprintf(stderr, "%s\n", err.msg);
			(*nerr)++;
			continue;
		}
		if (X509_verify(x, capub) != 1 ||
		    sp_x509_device_identity(x, &id, &err) == -1 ||
		    strcmp(id.mac, it->row->mac) != 0 ||
		    sp_ca_rec_fill(&it->rec, x, SP_KIND_DEVICE, SP_CA_DEVICE,
		    it->row->mac, &err) == -1) {
			fprintf(stderr, "%s: not this batch's certificate for "
			    "%s\n", path, it->row->mac);
			(*nerr)++;
		} else if ((v = find_valid(valid, nvalid, it->row->mac)) !=
		    NULL) {
			if (strcmp(v->serial, it->rec.serial) == 0)
				it->recorded = true;
			else {
				fprintf(stderr, "line %zu: MAC %s already has a "
				    "valid certificate (serial %s)\n",
				    it->row->line, it->row->mac, v->serial);
				(*nerr)++;
			}
		}
		X509_free(x);
	}
	sh->done = true;
	return 0;
}

/* Index rows for a finished shard (within the batch's transaction). */
static int
record_shard(struct bulk *b, struct sp_ca *ca, const struct shard *sh)
{
	size_t i;

	for (i = sh->start; i < sh->start + sh->count; i++) {
		struct item *it = &b->items[i];

		if (it->recorded)
			continue;
		if (sp_ca_record_rec(ca, &it->rec) == -1) {
			fail("line %zu: %s", it->row->line, sp_ca_error(ca));
			return -1;
		}
		it->recorded = true;
		/* The DER is in the index now; keep memory flat. */
		sp_ca_rec_release(&it->rec);
	}
	return 0;
}

int
cmd_issue_devices(struct ca_opts *o)
{
	struct sp_device_row *rows = NULL;
	struct sp_ca_macserial *valid = NULL;
	struct sp_buf errs;
	struct sp_err err;
	struct sp_ca *ca = NULL;
	struct bulk *b = NULL;
	pthread_t *th = NULL;
	char *csv = NULL, ident[512], path[PATH_MAX];
	size_t len, nrows = 0, nvalid = 0, i, adopted = 0, fresh, nth = 0;
	long nerr, jobs;
	bool resume, tty;
	double t0, last = 0, t_issue, t_sync;
	int rc = EXIT_ERR, fd, intx = 0;

	sp_buf_init(&errs, 1 << 20);
	if (o->csv == NULL || o->out == NULL) {
		fprintf(stderr, "usage: sprov-ca issue-devices --csv FILE -o "
		    "DIR [-j JOBS] [--days N] [--key-type T] [-q]\n");
		return EXIT_USAGE;
	}
	if (sp_fs_read(o->csv, SP_CSV_FILE_MAX, &csv, &len, &err) == -1)
		return fail("%s", err.msg);
	nerr = sp_csv_devices(o->csv, csv, len, &rows, &nrows, &errs);
	if (nerr == -1) {
		fail("%s: out of memory", o->csv);
		goto out;
	}
	if (nerr > 0) {
		fputs(errs.data, stderr);
		fail("%s: %ld error%s; nothing issued", o->csv, nerr,
		    nerr == 1 ? "" : "s");
		goto out;
	}
	if (nrows == 0) {
		fail("%s: no devices in the file", o->csv);
		goto out;
	}
	if ((ca = open_ca(o, false)) == NULL)
		goto out;
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		fail("out of memory");
		goto out;
	}
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	if ((b->items = calloc(nrows, sizeof(*b->items))) == NULL ||
	    (b->doneq = calloc(NSHARDS_MAX, sizeof(*b->doneq))) == NULL) {
		fail("out of memory");
		goto out;
	}
	b->dir = o->out;
	b->nitems = nrows;
	b->keytype = o->keytype_set ? o->keytype : SP_KEY_EC_P256;
	b->days = o->days > 0 ? (int)o->days : SP_DAYS_DEVICE_DEFAULT;
	if ((b->issuer = sp_ca_issuer(ca, SP_CA_DEVICE)) == NULL) {
		fail("%s", sp_ca_error(ca));
		goto out;
	}
	b->hex = nrows > SP_SHARD_WIDE_FROM ? 3 : 2;
	b->nshards = 1u << (4 * b->hex);
	for (i = 0; i < nrows; i++) {
		b->items[i].row = &rows[i];
		b->items[i].shard = shard_of(rows[i].mac, b->hex);
	}
	qsort(b->items, nrows, sizeof(*b->items), cmp_item);
	for (i = 0; i < nrows; i++) {
		struct shard *sh = &b->shards[b->items[i].shard];

		if (sh->count++ == 0)
			sh->start = i;
	}
	if (sp_ca_valid_devices(ca, &valid, &nvalid) == -1) {
		fail("%s", sp_ca_error(ca));
		goto out;
	}
	if (batch_identity(csv, len, sp_ca_root_cert(ca, SP_CA_DEVICE), ident,
	    sizeof(ident)) == -1) {
		fail("cannot hash the batch");
		goto out;
	}
	/* Refuse MACs the index already holds, before touching DIR. */
	nerr = 0;
	for (i = 0; i < nrows; i++) {		/* in file order */
		const struct sp_ca_macserial *v;
		struct stat st;

		if ((v = find_valid(valid, nvalid, rows[i].mac)) == NULL)
			continue;
		shard_path(o->out, b->hex, shard_of(rows[i].mac, b->hex),
		    false, path, sizeof(path));
		if (stat(path, &st) == 0)
			continue;	/* judged when the shard is adopted */
		if (nerr++ < SP_CSV_ERRORS_MAX)
			fprintf(stderr, "%s:%zu: MAC %s already has a valid "
			    "certificate (serial %s); revoke it first\n",
			    o->csv, rows[i].line, rows[i].mac, v->serial);
	}
	if (nerr > 0) {
		fail("%s: %ld MAC%s already issued; nothing issued", o->csv,
		    nerr, nerr == 1 ? "" : "s");
		goto out;
	}
	if (claim_dir(o->out, ident, &resume) != 0)
		goto out;
	if (resume) {
		if (clean_tmp(o->out) != 0)
			goto out;
		nerr = 0;
		for (i = 0; i < b->nshards; i++) {
			struct stat st;

			if (b->shards[i].count == 0)
				continue;
			shard_path(o->out, b->hex, (unsigned)i, false, path,
			    sizeof(path));
			if (stat(path, &st) == 0) {
				adopt_shard(b, &b->shards[i],
				    sp_ca_root_cert(ca, SP_CA_DEVICE), valid,
				    nvalid, &nerr);
				adopted += b->shards[i].count;
			}
		}
		if (nerr > 0) {
			fail("%s: %ld problem%s in the finished part of the "
			    "batch; nothing issued", o->out, nerr,
			    nerr == 1 ? "" : "s");
			goto out;
		}
	}
	fresh = nrows - adopted;
	jobs = o->jobs > 0 ? o->jobs : sysconf(_SC_NPROCESSORS_ONLN);
	if (jobs < 1)
		jobs = 1;
	if ((th = calloc((size_t)jobs, sizeof(*th))) == NULL) {
		fail("out of memory");
		goto out;
	}
	tty = !o->quiet && isatty(STDERR_FILENO);
	t0 = now_secs();
	/*
	 * One index transaction for the batch.  Rows go in as their shards
	 * finish, on this otherwise idle thread; the commit comes only after
	 * every file is durable, so the index never names a missing file.
	 */
	if (sp_ca_begin(ca) == -1) {
		fail("%s", sp_ca_error(ca));
		goto out;
	}
	intx = 1;
	for (i = 0; i < b->nshards; i++)
		if (b->shards[i].done && record_shard(b, ca, &b->shards[i]) == -1)
			goto out;
	for (nth = 0; nth < (size_t)jobs; nth++)
		if (pthread_create(&th[nth], NULL, worker, b) != 0) {
			bulk_fail(b, "cannot start a worker thread");
			break;
		}
	for (;;) {
		unsigned ready[64];
		size_t nready = 0, k;
		int all;

		pthread_mutex_lock(&b->lock);
		if (b->dq_head == b->dq_tail &&
		    atomic_load(&b->finished) < (int)nth &&
		    !atomic_load(&b->failed)) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 100 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&b->cond, &b->lock, &ts);
		}
		while (b->dq_head != b->dq_tail && nready < 64)
			ready[nready++] = b->doneq[b->dq_head++];
		all = b->dq_head == b->dq_tail &&
		    atomic_load(&b->finished) == (int)nth;
		pthread_mutex_unlock(&b->lock);
		for (k = 0; k < nready; k++)
			if (record_shard(b, ca, &b->shards[ready[k]]) == -1)
				bulk_fail(b, sp_ca_error(ca));
		if (tty && now_secs() - last > 0.2) {
			last = now_secs();
			progress_bar(atomic_load(&b->progress), fresh,
			    last - t0);
		}
		if (all || atomic_load(&b->failed))
			break;
	}
	for (i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	if (tty) {
		progress_bar(atomic_load(&b->progress), fresh, now_secs() - t0);
		fputc('\n', stderr);
	}
	if (atomic_load(&b->failed)) {
		fail("issue-devices: %s; finished shards are kept: run the same "
		    "command again to resume", b->err);
		goto out;
	}
	t_issue = now_secs();
	/* Every file durable before the index says the batch exists. */
	if ((fd = open(o->out, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    syncfs(fd) == -1) {
		fail("%s: sync: %s", o->out, strerror(errno));
		if (fd != -1)
			close(fd);
		goto out;
	}
	close(fd);
	t_sync = now_secs();
	if (sp_ca_commit(ca) == -1) {
		fail("%s", sp_ca_error(ca));
		goto out;
	}
	intx = 0;
	{
		double t_end = now_secs(), secs = t_end - t0;

		printf("issued %zu device identit%s in %.2f s (%.0f/s, %ld "
		    "job%s, %s) into %s\n", fresh, fresh == 1 ? "y" : "ies",
		    secs, secs > 0 ? (double)fresh / secs : 0.0, jobs,
		    jobs == 1 ? "" : "s", sp_x509_keytype_name(b->keytype),
		    o->out);
		printf("  keys, certificates and index rows %.2f s, sync %.2f "
		    "s, commit %.2f s\n", t_issue - t0, t_sync - t_issue,
		    t_end - t_sync);
		if (adopted > 0)
			printf("adopted %zu identities finished by an "
			    "interrupted run\n", adopted);
	}
	rc = EXIT_OK;
out:
	if (intx)
		sp_ca_rollback(ca);
	if (b != NULL) {
		for (i = 0; b->items != NULL && i < b->nitems; i++)
			sp_ca_rec_release(&b->items[i].rec);
		free(b->items);
		pthread_mutex_destroy(&b->lock);
		pthread_cond_destroy(&b->cond);
		free(b->doneq);
		free(b);
	}
	free(th);
	free(valid);
	free(rows);
	free(csv);
	sp_buf_release(&errs);
	sp_ca_free(ca);
	return rc;
}
