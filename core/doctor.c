/*
 * `baton doctor`: prove S7 (nothing orphaned) and the database's
 * integrity, and repair what S7 found when asked.
 */
#include <stdlib.h>
#include <string.h>

#include "core/doctor.h"
#include "db/store.h"
#include "lib/clock.h"
#include "lib/sys.h"

void
doctor_report_release(struct doctor_report *r)
{
	if (r == NULL)
		return;
	strvec_release(&r->kinds);
	strvec_release(&r->problems);
	strvec_release(&r->openers);
	free(r->integrity);
	memset(r, 0, sizeof *r);
}

static void
found(void *arg, const char *kind, const char *what)
{
	struct doctor_report *r = arg;

	strvec_push(&r->kinds, kind);
	strvec_push(&r->problems, what);
}

int
doctor_check(struct baton *b, int fix, struct doctor_report *r, char **cause)
{
	int ok = 0, n = 0, rc;

	memset(r, 0, sizeof *r);
	strvec_init(&r->kinds);
	strvec_init(&r->problems);
	strvec_init(&r->openers);
	if ((rc = store_wal(b->db, STORE_CKPT_PASSIVE, &r->wal, cause)))
		return rc;
	if (r->wal.busy)
		r->nopeners = sys_file_openers(b->db_path, &r->openers, 10);
	if ((rc = store_integrity_check(b->db, &ok, &r->integrity, cause)))
		return rc;
	r->damaged = !ok;
	if (fix && (rc = store_begin(b->db, cause)) != 0)
		return rc;
	rc = store_doctor(b->db, fix, clock_now_ms(), found, r, &n, cause);
	if (rc == 0 && fix)
		rc = store_commit(b->db, cause);
	if (rc != 0) {
		store_rollback(b->db);
		return rc;
	}
	r->fixed = fix && n > 0;
	return 0;
}
