/*
 * The `command` agent: any program, from an argv template whose items
 * may hold {task_id} {session_id} {agent_session_id} {workdir}
 * {prompt_file} {session_dir}, expanded as whole argv items (never through
 * a shell); naming {prompt_file} has baton write the prompt file (the
 * prompt is on stdin anyway: agent_needs()).
 * Exit 0 is success; the program may write a JSON result object to
 * $BATON_RESULT_FILE (SPEC §3.1).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agent.h"
#include "lib/file.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"

static int
command_build_argv(const struct agent_call *c, struct strvec *argv,
		   char **cause)
{
	char *const *p;

	if (c->profile->command == NULL || c->profile->command[0] == NULL) {
		*cause = xasprintf("agent '%s' has no command",
				   c->profile->name);
		return -1;
	}
	for (p = c->profile->command; *p != NULL; p++) {
		char *item = agent_expand(*p, c);

		strvec_push(argv, item);
		free(item);
	}
	for (p = c->profile->args; p != NULL && *p != NULL; p++)
		strvec_push(argv, *p);
	return 0;
}

static void
command_parse_result(const struct agent_call *c, const struct agent_exit *pr,
		     const char *out_path, const char *err_path,
		     struct agent_result *r)
{
	char *text = NULL, *why = NULL, *line = NULL;
	size_t len;
	int ok = pr->exited && pr->exit_code == 0;

	(void)out_path;
	r->num_turns = -1;
	r->duration_ms = -1;
	r->outcome = ok ? AGENT_OK : AGENT_FAILED;
	text = file_read(c->result_file, 16 << 20, &len);
	if (text == NULL && errno != ENOENT) {
		r->outcome = AGENT_BAD_OUTPUT;
		r->error = xasprintf("cannot read result file: %s",
				     file_strerror(errno));
		goto out;
	}
	if (text != NULL && len > 0) {
		if (agent_parse_result_json(text, r, &why) != 0) {
			r->outcome = AGENT_BAD_OUTPUT;
			r->error = xasprintf("bad result file: %s", why);
			goto out;
		}
		/* transient / resume_failed flags win over the exit status */
		if (r->outcome == AGENT_TRANSIENT ||
		    r->outcome == AGENT_RESUME_FAILED) {
			line = file_read_first_line(err_path, 200);
			r->error =
				xasprintf("%s%s%s",
					  r->outcome == AGENT_TRANSIENT
						  ? "transient failure"
						  : "cannot resume session",
					  line ? ": " : "", line ? line : "");
			goto out;
		}
	}
	if (!ok)
		r->error = agent_exit_error(NULL, pr, err_path);
out:
	free(text);
	free(why);
	free(line);
}

const struct agent_impl agent_command_impl = {
	.kind = AGENT_KIND_COMMAND,
	.answer = AGENT_ANSWER_MAYBE,
	.accepts_session_id = 1,
	.needs_session_dir = 1,
	.expands_command = 1,
	.build_argv = command_build_argv,
	.parse_result = command_parse_result,
};
