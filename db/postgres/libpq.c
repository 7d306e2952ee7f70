/*
 * libpq, loaded when a PostgreSQL store is first opened (dlopen), not
 * linked: linked, libpq and the twenty libraries it needs (OpenSSL,
 * Kerberos, LDAP, GnuTLS ...) were mapped and relocated by every baton
 * process, SQLite users' too — 6 MB of resident memory and their
 * start-up on each `baton add` and `status`.  The functions below have
 * libpq's own names and prototypes (libpq-fe.h checks them) and call
 * through pointers pq_load() fills in, so the store's code calls libpq
 * as it always did (and tests/unit/pg-*.c, after pq_load(), their own
 * connections: PQconnectdb).  BATON_LIBPQ names another library file (tests: one
 * that does not exist).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>

#include "lib/err.h"
#include "lib/xmalloc.h"
#include "db/postgres/internal.h"

#define LIBPQ "libpq.so.5"

#define PQ_FUNCS(X)                                                            \
	X(char *, PQcmdStatus, (PGresult * res), (res))                        \
	X(PGresult *, PQcopyResult, (const PGresult *src, int flags),          \
	  (src, flags))                                                        \
	X(PGresult *, PQmakeEmptyPGresult,                                     \
	  (PGconn * conn, ExecStatusType status), (conn, status))              \
	X(int, PQsetResultAttrs,                                               \
	  (PGresult * res, int numAttributes, PGresAttDesc *attDescs),         \
	  (res, numAttributes, attDescs))                                      \
	X(int, PQsetvalue,                                                     \
	  (PGresult * res, int tup_num, int field_num, char *value, int len),  \
	  (res, tup_num, field_num, value, len))                               \
	X(char *, PQcmdTuples, (PGresult * res), (res))                        \
	X(PGconn *, PQconnectdbParams,                                         \
	  (const char *const *keywords, const char *const *values,             \
	   int expand_dbname),                                                 \
	  (keywords, values, expand_dbname))                                   \
	X(int, PQconsumeInput, (PGconn * conn), (conn))                        \
	X(PGconn *, PQconnectdb, (const char *conninfo), (conninfo))           \
	X(char *, PQerrorMessage, (const PGconn *conn), (conn))                \
	X(PGresult *, PQexec, (PGconn * conn, const char *query),              \
	  (conn, query))                                                       \
	X(PGresult *, PQexecPrepared,                                          \
	  (PGconn * conn, const char *stmtName, int nParams,                   \
	   const char *const *paramValues, const int *paramLengths,            \
	   const int *paramFormats, int resultFormat),                         \
	  (conn, stmtName, nParams, paramValues, paramLengths, paramFormats,   \
	   resultFormat))                                                      \
	X(PGresult *, PQexecParams,                                            \
	  (PGconn * conn, const char *command, int nParams,                    \
	   const Oid *paramTypes, const char *const *paramValues,              \
	   const int *paramLengths, const int *paramFormats,                   \
	   int resultFormat),                                                  \
	  (conn, command, nParams, paramTypes, paramValues, paramLengths,      \
	   paramFormats, resultFormat))                                        \
	X(char *, PQfname, (const PGresult *res, int field_num),               \
	  (res, field_num))                                                    \
	X(int, PQgetisnull, (const PGresult *res, int tup_num, int field_num), \
	  (res, tup_num, field_num))                                           \
	X(char *, PQgetvalue,                                                  \
	  (const PGresult *res, int tup_num, int field_num),                   \
	  (res, tup_num, field_num))                                           \
	X(int, PQnfields, (const PGresult *res), (res))                        \
	X(PGresult *, PQprepare,                                               \
	  (PGconn * conn, const char *stmtName, const char *query,             \
	   int nParams, const Oid *paramTypes),                                \
	  (conn, stmtName, query, nParams, paramTypes))                        \
	X(PGnotify *, PQnotifies, (PGconn * conn), (conn))                     \
	X(int, PQntuples, (const PGresult *res), (res))                        \
	X(char *, PQresultErrorField, (const PGresult *res, int fieldcode),    \
	  (res, fieldcode))                                                    \
	X(ExecStatusType, PQresultStatus, (const PGresult *res), (res))        \
	X(PQnoticeProcessor, PQsetNoticeProcessor,                             \
	  (PGconn * conn, PQnoticeProcessor proc, void *arg),                  \
	  (conn, proc, arg))                                                   \
	X(int, PQsocket, (const PGconn *conn), (conn))                         \
	X(ConnStatusType, PQstatus, (const PGconn *conn), (conn))              \
	X(PGTransactionStatusType, PQtransactionStatus, (const PGconn *conn),  \
	  (conn))

/* Pipeline mode (libpq 14 and later): looked up, not required; without
 * it every statement waits for its answer (pq_pipeline() says 0). */
#define PQ_PIPE(X)                                                             \
	X(int, PQenterPipelineMode, (PGconn * conn), (conn))                   \
	X(int, PQexitPipelineMode, (PGconn * conn), (conn))                    \
	X(int, PQpipelineSync, (PGconn * conn), (conn))                        \
	X(PGresult *, PQgetResult, (PGconn * conn), (conn))                    \
	X(int, PQsendPrepare,                                                  \
	  (PGconn * conn, const char *stmtName, const char *query,             \
	   int nParams, const Oid *paramTypes),                                \
	  (conn, stmtName, query, nParams, paramTypes))                        \
	X(int, PQsendQueryParams,                                              \
	  (PGconn * conn, const char *command, int nParams,                    \
	   const Oid *paramTypes, const char *const *paramValues,              \
	   const int *paramLengths, const int *paramFormats,                   \
	   int resultFormat),                                                  \
	  (conn, command, nParams, paramTypes, paramValues, paramLengths,      \
	   paramFormats, resultFormat))                                        \
	X(int, PQsendQueryPrepared,                                            \
	  (PGconn * conn, const char *stmtName, int nParams,                   \
	   const char *const *paramValues, const int *paramLengths,            \
	   const int *paramFormats, int resultFormat),                         \
	  (conn, stmtName, nParams, paramValues, paramLengths, paramFormats,   \
	   resultFormat))

/* The ones that return nothing. */
#define PQ_VOIDS(X)                                                            \
	X(void, PQclear, (PGresult * res), (res))                              \
	X(void, PQfinish, (PGconn * conn), (conn))                             \
	X(void, PQfreemem, (void *ptr), (ptr))                                 \
	X(void, PQreset, (PGconn * conn), (conn))

/* The pointers, one per function. */
#define PQ_POINTER(ret, name, params, args) static ret(*p_##name) params;
PQ_FUNCS(PQ_POINTER)
PQ_PIPE(PQ_POINTER)
PQ_VOIDS(PQ_POINTER)

/* libpq's names, calling through them (only after pq_load succeeded:
 * every path to them opens a store first). */
#define PQ_WRAPPER(ret, name, params, args)                                    \
	ret name params                                                        \
	{                                                                      \
		return p_##name args;                                          \
	}
PQ_FUNCS(PQ_WRAPPER)
PQ_PIPE(PQ_WRAPPER)
#define PQ_VOID_WRAPPER(ret, name, params, args)                               \
	void name params                                                       \
	{                                                                      \
		p_##name args;                                                 \
	}
PQ_VOIDS(PQ_VOID_WRAPPER)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char *load_error; /* NULL once loaded */
static int has_pipeline;

static void
load(void)
{
	const char *file = getenv("BATON_LIBPQ");
	const char *err, *off;
	void *h;

	if (file == NULL || *file == '\0')
		file = LIBPQ;
	if ((h = dlopen(file, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		err = dlerror();
		load_error = xasprintf("cannot load libpq (%s): %s; the "
				       "PostgreSQL store needs it (Debian: "
				       "apt-get install libpq5)",
				       file, err != NULL ? err : "?");
		return;
	}
#define PQ_LOOKUP(ret, name, params, args)                                     \
	if (load_error == NULL &&                                              \
	    (*(void **)&p_##name = dlsym(h, #name)) == NULL)                   \
		load_error =                                                   \
			xasprintf("%s has no %s: libpq too old", file, #name);
	PQ_FUNCS(PQ_LOOKUP)
	PQ_VOIDS(PQ_LOOKUP)
#undef PQ_LOOKUP
#define PQ_OPTIONAL(ret, name, params, args)                                   \
	if ((*(void **)&p_##name = dlsym(h, #name)) == NULL)                   \
		has_pipeline = 0;
	has_pipeline = 1;
	PQ_PIPE(PQ_OPTIONAL)
#undef PQ_OPTIONAL
	if ((off = getenv("BATON_PG_NO_PIPELINE")) != NULL && *off != '\0')
		has_pipeline = 0;
	/* never dlclose()d: its connections live as long as the process */
}

int
pq_load(char **cause)
{
	pthread_once(&once, load);
	if (load_error != NULL) {
		*cause = xstrdup(load_error);
		return -1;
	}
	return 0;
}

int
pq_pipeline(void)
{
	return has_pipeline;
}
