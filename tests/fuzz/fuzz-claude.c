/* The claude adapter's result parser (agents/agent-claude.c): see agent.h for
 * how the input is split. */
#include "tests/fuzz/agent.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_agent(AGENT_KIND_CLAUDE, data, size);
	return 0;
}
