/* registry.c: finding commands and backends in the tables the folders
 * contribute (cli/command.h). */
#include <string.h>

#include "cli/command.h"

const struct ts_command *ts_command_find(const char *name)
{
	for (int t = 0; ts_command_tables[t]; t++)
		for (const struct ts_command *c = ts_command_tables[t]; c->name; c++)
			if (!strcmp(c->name, name))
				return c;
	return NULL;
}

const struct ts_backend_entry *ts_backend_find(const char *name)
{
	for (int t = 0; ts_backend_tables[t]; t++)
		for (const struct ts_backend_entry *b = ts_backend_tables[t]; b->name; b++)
			if (!strcmp(b->name, name))
				return b;
	return NULL;
}
