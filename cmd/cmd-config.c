/*
 * `baton config check [FILE]`, `baton config show` and `baton config
 * trust [FILE]` (SPEC §6, §8).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd/cmd.h"
#include "core/config.h"

static int cmd_config_check_exec(struct baton *, int, char **);
static int cmd_config_show_exec(struct baton *, int, char **);
static int cmd_config_trust_exec(struct baton *, int, char **);

static const struct cmd_entry cmd_config_check_entry = {
	.name = "check",
	.usage = "[FILE]",
	.summary = "validate the configuration, or FILE",
	.help = "Without FILE, checks the configuration baton would use: "
		"--config or BATON_CONFIG;\nelse "
		"$XDG_CONFIG_HOME/baton/config.yaml with ./baton.yaml layered "
		"on top (which\nmust be trusted if it changes what an agent "
		"runs: see 'baton config trust');\nthen the environment "
		"(BATON_DB, BATON_SESSION_TTL, BATON_WORKERS).  With FILE,\n"
		"checks that file alone.  Prints \"ok: FILE\" and exits 0, or "
		"prints\n\"FILE:LINE:COL: problem\" and exits 3.\n",
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

static const struct cmd_entry cmd_config_trust_entry = {
	.name = "trust",
	.usage = "[FILE]",
	.summary = "trust a project's ./baton.yaml (or FILE)",
	.help = "A project's ./baton.yaml is layered on top of your own "
		"config, but it may not\nadd or change what an agent runs "
		"(an agent's kind, command, args or env, a\nnew profile, or "
		"db.path) until you trust it: read it, then run this.  The "
		"file's\nreal path and the SHA-256 of its content are recorded "
		"in\n$XDG_CONFIG_HOME/baton/trusted (~/.config/baton/trusted);"
		" once the file changes\nit is untrusted again.  Files named "
		"with --config or BATON_CONFIG need no trust:\nyou chose "
		"them.  Prints \"trusted PATH (sha256 HASH)\".\n",
	.flags = CMD_READONLY,
	.exec = cmd_config_trust_exec,
};

static const struct cmd_entry *const cmd_config_subcmds[] = {
	&cmd_config_check_entry,
	&cmd_config_show_entry,
	&cmd_config_trust_entry,
	NULL,
};

const struct cmd_entry cmd_config_entry = {
	.name = "config",
	.usage = "check [FILE] | show | trust [FILE]",
	.summary = "validate, print or trust the configuration",
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

static int
cmd_config_trust_exec(struct baton *b, int argc, char **argv)
{
	const struct cmd_entry *e = &cmd_config_trust_entry;
	char hash[65], *real = NULL, *cause = NULL;
	int rc;

	rc = parse_options(e, argc, argv);
	if (rc >= 0)
		return rc;
	if (argc - optind > 1)
		return cmd_usage_error(e, "too many arguments");
	if (config_trust(optind < argc ? argv[optind] : "baton.yaml", &real,
			 hash, &cause) != 0) {
		cmd_error("%s", cause);
		free(cause);
		return EXIT_CONFIG;
	}
	if (b->verbosity >= 0)
		printf("trusted %s (sha256 %s)\n", real, hash);
	free(real);
	return EXIT_OK;
}
