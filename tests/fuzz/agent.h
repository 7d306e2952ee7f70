/*
 * The agent result harnesses (fuzz-claude.c, fuzz-codex.c,
 * fuzz-command.c) share this: the input is one byte for how the agent
 * ended (bit 0: exit status 1 rather than 0, bit 1: killed by SIGTERM),
 * then the file the adapter reads (stdout for claude and codex, the
 * result file for command), then after the first NUL what the agent
 * wrote to stderr.
 */
#ifndef BATON_FUZZ_AGENT_H
#define BATON_FUZZ_AGENT_H

#include <signal.h>

#include "agents/agent.h"
#include "core/config.h"
#include "tests/fuzz/fuzz.h"

static void
fuzz_agent(enum agent_kind kind, const uint8_t *data, size_t size)
{
	const struct agent_impl *impl = agent_impl_find(kind);
	struct agent_profile prof;
	struct agent_call call;
	struct agent_exit pr;
	struct agent_result r;
	const uint8_t *nul;
	const char *out, *err, *home;
	size_t len;
	char *env[2];

	if (size == 0)
		return;
	memset(&prof, 0, sizeof prof);
	memset(&call, 0, sizeof call);
	memset(&pr, 0, sizeof pr);
	memset(&r, 0, sizeof r);
	pr.exited = (data[0] & 2) == 0;
	pr.exit_code = pr.exited ? data[0] & 1 : -1;
	pr.signal = pr.exited ? 0 : SIGTERM;
	data++, size--;
	nul = memchr(data, '\0', size);
	len = nul != NULL ? (size_t)(nul - data) : size;
	out = fuzz_file(0, "out", data, len);
	err = nul != NULL ? fuzz_file(1, "err", nul + 1, size - len - 1)
			  : fuzz_file(1, "err", data, 0);
	/* codex looks for its rollout files here: an empty directory */
	home = fuzz_file(2, "home", data, 0);
	env[0] = xasprintf("CODEX_HOME=%s.d", home);
	env[1] = NULL;
	prof.name = (char *)agent_kind_name(kind);
	prof.kind = kind;
	prof.env = env;
	call.profile = &prof;
	call.session_id = "0b6f2c1e-5a4d-4e8f-9c3b-2a1d0e9f8c7b";
	call.agent_session_id = call.session_id;
	call.result_file = out;
	pr.out_bytes = len;
	pr.err_bytes = nul != NULL ? size - len - 1 : 0;
	impl->parse_result(&call, &pr, out, err, &r);
	agent_result_release(&r);
	free(env[0]);
}

#endif
