/* The yaml reader of task files (core/taskfile.c, add --from). */
#include "core/task.h"
#include "core/taskfile.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(0, "tasks.yaml", data, size);
	struct task_spec *specs = NULL;
	char *cause = NULL;
	size_t i, n = 0;

	if (taskfile_load(path, &specs, &n, &cause) == 0) {
		for (i = 0; i < n; i++)
			task_spec_release(&specs[i]);
		free(specs);
	}
	free(cause);
	return 0;
}
