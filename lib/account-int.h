/*
 * Internal to lib/account.c and lib/certreq.c: both keep their tables in
 * portal.db, on the one connection the accounts handle owns (account.c
 * holds the schema of the whole file and its migrations).
 */
#ifndef SPROV_ACCOUNT_INT_H
#define SPROV_ACCOUNT_INT_H

#include <sqlite3.h>

#include "sprov/account.h"
#include "sprov/err.h"

sqlite3		*sp_accounts_db(struct sp_accounts *);
struct sp_err	*sp_accounts_err(struct sp_accounts *);

#endif
