/*
 * `baton config check [FILE]` and `baton config show` (SPEC §6, §8).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd/cmd.h"
#include "core/config.h"

static int cmd_config_check_exec(struct baton *, int, char **);
static int cmd_config_show_exec(struct baton *, int, char **);

static const struct cmd_entry cmd_config_check_entry = {
	.name = "check",
	.usage = "[FILE]",
	.summary = "validate the configuration, or FILE",
	.help = "Without FILE, checks the configuration baton would use: "
		"--config, BATON_CONFIG,\n./baton.yaml or "
		"$XDG_CONFIG_HOME/baton/config.yaml, then the environment\n"
		"(BATON_DB, BATON_SESSION_TTL, BATON_WORKERS).  With FILE, "
		"checks that file alone.\nPrints \"ok: FILE\" and exits 0, "
		"or prints \"FILE:LINE:COL: problem\" and exits 3.\n",
	.flags = CMD_READONLY,
	.exec = cmd_config_check_exec,
};

static const struct cmd_entry cmd_config_show_entry = {
	.name = "show",
	.usage = "",
	.summary = "print the effective configuration as YAML",
	.help = "Prints the built-in defaults with the configuration file and "
		"the environment\napplied, as YAML that baton can read back.  "
		"Values of env: and of keys that\nlook like secrets are shown "
		"as \"***\".\n",
	.flags = CMD_NEEDS_CONFIG | CMD_READONLY,
	.exec = cmd_config_show_exec,
};

static const struct cmd_entry *const cmd_config_subcmds[] = {
	&cmd_config_check_entry,
	&cmd_config_show_entry,
	NULL,
};

const struct cmd_entry cmd_config_entry = {
	.name = "config",
	.usage = "check [FILE] | show",
	.summary = "validate or print the configuration",
	.subcmds = cmd_config_subcmds,
};

/*
 * Neither command has options but --help.  Returns -1 to go on with
 * argv[optind...] as the operands, or an exit status.
 */
static int
parse_options(const struct cmd_entry *e, int argc, char **argv)
{
	static const struct option longopts[] = {{NULL, 0, NULL, 0}};
	int c;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "", longopts)) != -1)
		return cmd_option_error(e, argv, longopts);
	return -1;
}

static int
cmd_config_check_exec(struct baton *b, int argc, char **argv)
{
	const struct cmd_entry *e = &cmd_config_check_entry;
	struct config cfg;
	char *cause = NULL;
	int rc;

	rc = parse_options(e, argc, argv);
	if (rc >= 0)
		return rc;
	if (argc - optind > 1)
		return cmd_usage_error(e, "too many arguments");
	/* Loaded here rather than by the dispatcher, so that checking FILE
	 * works even when the configuration in use is broken. */
	if (optind < argc)
		rc = config_load_file(&cfg, argv[optind], &cause);
	else
		rc = config_load(&cfg, b->config_path, &cause);
	if (rc != 0) {
		cmd_error("%s", cause);
		free(cause);
		return EXIT_CONFIG;
	}
	if (b->verbosity >= 0)
		printf("ok: %s\n", cfg.path ? cfg.path : "built-in defaults");
	config_release(&cfg);
	return EXIT_OK;
}

static int
cmd_config_show_exec(struct baton *b, int argc, char **argv)
{
	const struct cmd_entry *e = &cmd_config_show_entry;
	const char *p;
	int rc;

	rc = parse_options(e, argc, argv);
	if (rc >= 0)
		return rc;
	if (optind < argc)
		return cmd_usage_error(e, "unexpected argument '%s'",
				       argv[optind]);
	/* a comment line: a newline in the path must not end it */
	fputs("# baton configuration: ", stdout);
	for (p = b->cfg->path ? b->cfg->path : "built-in defaults"; *p; p++)
		putchar((unsigned char)*p < 0x20 ? '?' : *p);
	putchar('\n');
	if (config_show(b->cfg, stdout) != 0)
		return EXIT_FAILED;
	return EXIT_OK;
}
