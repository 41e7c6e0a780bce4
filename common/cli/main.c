/* main.c: the `tetriserve` command: finds the sub-command in the tables the
 * folders contribute (cli/command.h) and runs it. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/command.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: tetriserve <command> [options]   (tetriserve <command> --help)\n\ncommands:\n");
	for (int t = 0; ts_command_tables[t]; t++)
		for (const struct ts_command *c = ts_command_tables[t]; c->name; c++)
			fprintf(f, "  %-10s %s%s\n", c->name, c->summary, c->run ? "" : " (not in this build)");
	fprintf(f, "  --version  print the version\n");
}

/* A two-word command ("profile model") when argv starts with one: its
 * table entry, else NULL. */
static const struct ts_command *find_two_word_command(int argc, char **argv)
{
	char name[128];
	if (argc < 3 || snprintf(name, sizeof(name), "%s %s", argv[1], argv[2]) >= (int)sizeof(name))
		return NULL;
	return ts_command_find(name);
}

/* A command this build lacks: say why; --help is answered on stdout with 0. */
static int unavailable(const struct ts_command *c, int argc, char **argv)
{
	bool help = argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
	fprintf(help ? stdout : stderr, "tetriserve %s: %s\n", c->name, c->unavailable);
	return help ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("tetriserve %s\n", TS_VERSION);
		return 0;
	}
	const struct ts_command *c = find_two_word_command(argc, argv);
	if (c) /* argv[0] of the command is its second word */
		return c->run ? c->run(argc - 2, argv + 2) : unavailable(c, argc - 2, argv + 2);
	c = ts_command_find(argv[1]);
	if (!c) {
		fprintf(stderr, "tetriserve: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return 2;
	}
	if (!c->run)
		return unavailable(c, argc - 1, argv + 1);
	return c->run(argc - 1, argv + 1);
}
