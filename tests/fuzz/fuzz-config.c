/* The config loader (core/config-yaml.c, config-keys.c, config-agents.c)
 * on a config file's bytes. */
#include "core/config.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char *cause = NULL;

	memset(&cfg, 0, sizeof cfg);
	if (config_load_string(&cfg, "fuzz.yaml", (const char *)data, size,
			       &cause) == 0)
		config_release(&cfg);
	free(cause);
	return 0;
}
