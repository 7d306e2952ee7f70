/*
 * baton report --junit FILE [--milestone M]: JUnit XML, one testcase per
 * task, for CI systems that read it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/common.h"
#include "lib/file.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"

const struct cmd_entry cmd_report_entry;

#define LOG_TAIL 4096

/* XML text with &, <, >, " escaped and control characters dropped. */
static void
xml_text(FILE *fp, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '&':
			fputs("&amp;", fp);
			break;
		case '<':
			fputs("&lt;", fp);
			break;
		case '>':
			fputs("&gt;", fp);
			break;
		case '"':
			fputs("&quot;", fp);
			break;
		default:
			if (c < 0x20 && c != '\n' && c != '\t' && c != '\r')
				fputc('?', fp);
			else
				fputc(c, fp);
		}
	}
}

struct report {
	struct baton *b;
	FILE *fp;
	struct strbuf body;
	long long tests, failures, errors, skipped;
	double time;
	FILE *mem;
};

static char *
log_tail(struct report *r, int64_t task, const char *ext)
{
	struct db_run *runs = NULL;
	size_t n = 0;
	char *cause = NULL, *path, *tail = NULL;

	if (store_run_list(r->b->db, task, &runs, &n, &cause) != 0) {
		free(cause);
		return NULL;
	}
	if (n > 0) {
		path = xasprintf("%s/logs/%lld/%lld.%s", r->b->state_dir,
				 (long long)task, (long long)runs[n - 1].id,
				 ext);
		tail = file_read_tail(path, LOG_TAIL);
		free(path);
	}
	db_runs_free(runs, n);
	return tail;
}

static int
testcase(void *arg, const struct db_task *t)
{
	struct report *r = arg;
	const char *status = task_status_name(t->status);
	FILE *fp = r->mem;
	double secs = 0;
	char *out, *err;

	r->tests++;
	if (t->started_at && t->finished_at)
		secs = (double)(t->finished_at - t->started_at) / 1000;
	r->time += secs;
	fprintf(fp, "    <testcase classname=\"");
	xml_text(fp, t->milestone ? t->milestone : "baton");
	fprintf(fp, "\" name=\"%lld: ", (long long)t->id);
	xml_text(fp, t->title ? t->title : t->prompt);
	fprintf(fp, "\" time=\"%.3f\">\n", secs);
	if (t->status == TASK_COMPLETED) {
		/* passed */
	} else if (!task_status_final(t->status)) {
		r->skipped++;
		fprintf(fp, "      <skipped message=\"%s\"/>\n", status);
	} else {
		int failure =
			t->status == TASK_FAILED || t->status == TASK_TIMED_OUT;

		if (failure)
			r->failures++;
		else
			r->errors++;
		fprintf(fp, "      <%s type=\"%s\" message=\"",
			failure ? "failure" : "error", status);
		xml_text(fp, t->error ? t->error : status);
		fprintf(fp, "\">");
		xml_text(fp, t->reason ? t->reason : status);
		fprintf(fp, "</%s>\n", failure ? "failure" : "error");
		out = log_tail(r, t->id, "out");
		err = log_tail(r, t->id, "err");
		if (out != NULL && *out != '\0') {
			fprintf(fp, "      <system-out>");
			xml_text(fp, out);
			fprintf(fp, "</system-out>\n");
		}
		if (err != NULL && *err != '\0') {
			fprintf(fp, "      <system-err>");
			xml_text(fp, err);
			fprintf(fp, "</system-err>\n");
		}
		free(out);
		free(err);
	}
	fprintf(fp, "    </testcase>\n");
	return ferror(fp) ? 1 : 0;
}

enum { OPT_JUNIT = 256, OPT_MS };
static const struct option report_options[] = {
	{"junit", required_argument, NULL, OPT_JUNIT},
	{"milestone", required_argument, NULL, OPT_MS},
	{NULL, 0, NULL, 0},
};

/* Read the options into *file and *ms.  Returns -1 to go on, or an exit
 * status. */
static int
parse_options(int argc, char **argv, const char **file, const char **ms)
{
	int c;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "", report_options)) != -1) {
		if (c == OPT_JUNIT)
			*file = optarg;
		else if (c == OPT_MS)
			*ms = optarg;
		else
			return cmd_option_error(&cmd_report_entry, argv,
						report_options);
	}
	if (*file == NULL)
		return cmd_usage_error(&cmd_report_entry,
				       "--junit FILE is required");
	if (optind < argc)
		return cmd_usage_error(&cmd_report_entry,
				       "unexpected argument '%s'",
				       argv[optind]);
	return -1;
}

/*
 * The testcases of the tasks f selects into *buf, *len (the caller's to
 * free) and their totals into r.  Returns -1 to go on, or an exit
 * status.
 */
static int
collect(struct report *r, const struct db_task_filter *f, char **buf,
	size_t *len)
{
	char *cause = NULL;

	r->mem = open_memstream(buf, len);
	if (r->mem == NULL) {
		cmd_error("cannot allocate the report");
		return EXIT_FAILED;
	}
	if (store_task_each(r->b->db, f, testcase, r, &cause) != 0) {
		fclose(r->mem);
		r->mem = NULL;
		cmd_error("%s", cause);
		free(cause);
		return EXIT_DB;
	}
	fclose(r->mem);
	r->mem = NULL;
	return -1;
}

/* The whole report, the testcases in buf, to fp; ferror(fp) says if it
 * failed. */
static void
write_xml(FILE *fp, const struct report *r, const char *ms, const char *buf,
	  size_t len)
{
	fprintf(fp, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(fp,
		"<testsuites tests=\"%lld\" failures=\"%lld\" "
		"errors=\"%lld\" skipped=\"%lld\" time=\"%.3f\">\n",
		r->tests, r->failures, r->errors, r->skipped, r->time);
	fprintf(fp, "  <testsuite name=\"");
	xml_text(fp, ms ? ms : "baton");
	fprintf(fp,
		"\" tests=\"%lld\" failures=\"%lld\" errors=\"%lld\" "
		"skipped=\"%lld\" time=\"%.3f\">\n",
		r->tests, r->failures, r->errors, r->skipped, r->time);
	fwrite(buf, 1, len, fp);
	fprintf(fp, "  </testsuite>\n</testsuites>\n");
}

/* Write the report to file; an exit status. */
static int
write_file(const char *file, const struct report *r, const char *ms,
	   const char *buf, size_t len)
{
	char *tmp;
	FILE *fp;
	int rc = EXIT_OK;

	/* Write beside the target and rename: no half-written report. */
	tmp = xasprintf("%s.tmp.%ld", file, (long)getpid());
	if ((fp = fopen(tmp, "w")) == NULL) {
		cmd_error("cannot write %s: %s", file, strerror(errno));
		rc = EXIT_FAILED;
		goto out;
	}
	write_xml(fp, r, ms, buf, len);
	if (ferror(fp) | fclose(fp)) {
		cmd_error("cannot write %s: %s", file, strerror(errno));
		unlink(tmp);
		rc = EXIT_FAILED;
		goto out;
	}
	if (rename(tmp, file) != 0) {
		cmd_error("cannot write %s: %s", file, strerror(errno));
		unlink(tmp);
		rc = EXIT_FAILED;
		goto out;
	}
out:
	free(tmp);
	return rc;
}

static int
report_exec(struct baton *b, int argc, char **argv)
{
	struct db_task_filter f = {0};
	struct report r = {0};
	const char *file = NULL, *ms = NULL;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if ((rc = parse_options(argc, argv, &file, &ms)) >= 0)
		return rc;
	if (ms != NULL && (rc = cmd_milestone_id(b, &cmd_report_entry, ms,
						 &f.milestone_id)) != 0)
		return rc;
	r.b = b;
	if ((rc = collect(&r, &f, &buf, &len)) >= 0)
		goto out;
	rc = write_file(file, &r, ms, buf, len);
	if (rc == EXIT_OK && b->verbosity >= 0)
		printf("wrote %s: %lld tests, %lld failures, %lld errors, "
		       "%lld skipped\n",
		       file, r.tests, r.failures, r.errors, r.skipped);
out:
	free(buf);
	return rc;
}

const struct cmd_entry cmd_report_entry = {
	.name = "report",
	.usage = "--junit FILE [--milestone M]",
	.summary = "write a JUnit XML report, one testcase per task",
	.help = "Completed tasks pass; failed and timed_out ones are "
		"failures,\n"
		"cancelled and interrupted ones errors, pending and running "
		"ones\n"
		"skipped.  Failures carry the reason and the tail of the "
		"agent's\n"
		"output.  The file is replaced atomically.\n",
	.flags = CMD_NEEDS_DB | CMD_READONLY,
	.exec = report_exec,
	.options = report_options,
};
