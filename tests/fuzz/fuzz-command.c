/* The command adapter's result parser (agents/agent-command.c): see agent.h for
 * how the input is split. */
#include "tests/fuzz/agent.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_agent(AGENT_KIND_COMMAND, data, size);
	return 0;
}
