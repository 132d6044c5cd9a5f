/* sprov-agent: the phone's side of provisioning.  See sprov-agent(8). */
#ifndef SPROV_AGENT_H
#define SPROV_AGENT_H

#include "sprov/buf.h"
#include "sprov/err.h"
#include "sprov/profile.h"

#define EXIT_CHANGED	0
#define EXIT_FAILED	1
#define EXIT_UNCHANGED	2
#define EXIT_USAGE	64	/* 0, 1, 2 are taken by resync results */

struct profile;
struct sp_profile *content_profile(const struct sp_buf *raw, const char *key,
    const char *alias, struct sp_err *);
/* openssl enc -aes-256-cbc -md sha256 format, appended to out; 0 or -1. */
int	content_encrypt(const char *data, size_t len, const char *pass,
	    struct sp_buf *out);

#endif
