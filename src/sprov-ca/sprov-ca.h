/*
 * sprov-ca: the program's context and its commands.  main.c parses the
 * command line into struct ca_opts; each command lives in its own file.
 */
#ifndef SPROV_CA_PROG_H
#define SPROV_CA_PROG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "sprov/x509.h"

/* Exit status is an API: see sprov-ca(1). */
#define EXIT_OK		0
#define EXIT_ERR	1
#define EXIT_USAGE	2

struct ca_opts {
	const char	*dir;
	const char	*out;
	const char	*passfile;	/* --passphrase-file */
	const char	*ca_passfile;	/* --ca-passphrase-file */
	const char	*org;
	const char	*mac;
	const char	*serial;
	const char	*model;
	const char	*csv;
	const char	*reason;
	const char	*ca;
	const char	*kind;
	const char	*conf;		/* serve -f */
	const char	*why;		/* reject --why */
	long		 days;		/* -1: default of the command */
	long		 expiring;	/* -1: not given */
	long		 jobs;		/* 0: all cores */
	enum sp_keytype	 keytype;
	bool		 keytype_set;
	bool		 pkcs12;
	bool		 renew;
	bool		 revoked;
	bool		 json;
	bool		 quiet;
	bool		 verify;	/* audit --verify */
	int		 argc;		/* positional arguments after command */
	char		**argv;
};

/* Reads a passphrase file (refused if group/world readable); NULL if
 * path is NULL.  Caller frees with free_passphrase(). */
int	read_passphrase(const char *path, char **out);
void	free_passphrase(char *);
/* The CA passphrase for signing commands (see sprov-ca(1)). */
int	ca_passphrase(const struct ca_opts *, bool pkcs12_uses_passfile,
	    char **out);
struct sp_ca;
/* Opens the CA of -d with the CA passphrase; prints the error on NULL. */
struct sp_ca *open_ca(const struct ca_opts *, bool pkcs12_uses_passfile);
/* ISO 8601 UTC. */
void	fmt_time(time_t, char *, size_t);
/* Prints "sprov-ca: msg" to stderr; returns EXIT_ERR. */
int	fail(const char *, ...) __attribute__((format(printf, 1, 2)));

int	cmd_init(struct ca_opts *);
int	cmd_sign_server(struct ca_opts *);
int	cmd_issue_device(struct ca_opts *);
int	cmd_issue_devices(struct ca_opts *);
int	cmd_issue_admin(struct ca_opts *);
int	cmd_revoke(struct ca_opts *);
int	cmd_crl(struct ca_opts *);
int	cmd_list(struct ca_opts *);
int	cmd_show(struct ca_opts *);
int	cmd_account(struct ca_opts *);
int	cmd_serve(struct ca_opts *);
int	cmd_requests(struct ca_opts *);
int	cmd_approve(struct ca_opts *);
int	cmd_reject(struct ca_opts *);
int	cmd_audit(struct ca_opts *);
/* portal.db of the CA directory, if it exists (NULL otherwise or on
 * error, said on stderr when *failed is set). */
struct sp_accounts *open_portal_db(const struct ca_opts *, bool create,
    bool *failed);

#endif
