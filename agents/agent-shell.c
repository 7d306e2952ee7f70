/*
 * The built-in `shell` agent: the prompt is a script the user wrote, run
 * by /bin/sh in the task's workdir.  It is run as `/bin/sh PROMPT_FILE`
 * rather than `sh -c PROMPT` so that a script of any size works (argv
 * items are limited to 128 KiB by Linux); the meaning is the same.
 */
#include <stdlib.h>
#include <string.h>

#include "agents/agent.h"
#include "lib/strbuf.h"

static int
shell_build_argv(const struct agent_call *c, struct strvec *argv, char **cause)
{
	(void)cause;
	strvec_push(argv, "/bin/sh");
	strvec_push(argv, c->prompt_file);
	return 0;
}

static void
shell_parse_result(const struct agent_call *c, const struct agent_exit *pr,
		   const char *out_path, const char *err_path,
		   struct agent_result *r)
{
	(void)c;
	(void)out_path;
	r->num_turns = -1;
	r->duration_ms = -1;
	if (pr->exited && pr->exit_code == 0) {
		r->outcome = AGENT_OK;
		return;
	}
	r->outcome = AGENT_FAILED;
	r->error = agent_exit_error("script", pr, err_path);
}

const struct agent_impl agent_shell_impl = {
	.kind = AGENT_KIND_SHELL,
	.answer = AGENT_ANSWER_NONE,
	.accepts_session_id = 1,
	.script_prompt = 1,
	.needs_prompt_file = 1,
	.needs_session_dir = 1,
	.build_argv = shell_build_argv,
	.parse_result = shell_parse_result,
};
