/*
 * conftool.c - a small driver around conf.c for the config corpus and
 * the documentation checks: loads a file the way spf-milter -t does and
 * prints the effective configuration or the errors.
 *
 *   conftool [-s] [-o KEY=VALUE]... FILE   load FILE (with -s: socket
 *                                          required); config to stdout,
 *                                          errors to stdout too, so that
 *                                          a test compares one stream
 *   conftool -k                            the parameter names
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../conf.h"

#define MAX_OVERRIDES 16

static int
usage(void)
{
	fprintf(stderr, "usage: conftool [-s] [-o KEY=VALUE]... FILE\n"
	    "       conftool -k\n");
	return 2;
}

static int
add_override(struct conf_override *ov, size_t *n, char *arg)
{
	char *eq = strchr(arg, '=');

	if (eq == NULL || *n == MAX_OVERRIDES)
		return -1;
	*eq = '\0';
	ov[*n].key = arg;
	ov[*n].value = eq + 1;
	(*n)++;
	return 0;
}

int
main(int argc, char **argv)
{
	struct conf_override ov[MAX_OVERRIDES];
	struct conf *c;
	size_t nov = 0, i;
	int ch, need_socket = 0;

	while ((ch = getopt(argc, argv, "ko:s")) != -1) {
		switch (ch) {
		case 'k':
			for (i = 0; conf_keys[i] != NULL; i++)
				puts(conf_keys[i]);
			return 0;
		case 'o':
			if (add_override(ov, &nov, optarg) == -1)
				return usage();
			break;
		case 's':
			need_socket = 1;
			break;
		default:
			return usage();
		}
	}
	if (optind != argc - 1)
		return usage();
	c = conf_load_overrides(argv[optind], ov, nov, stdout);
	if (c == NULL)
		return SPF_MILTER_EXIT_CONFIG;
	if (need_socket && conf_require_socket(c, stdout) == -1) {
		conf_unref(c);
		return SPF_MILTER_EXIT_CONFIG;
	}
	conf_print(c, stdout);
	conf_unref(c);
	return SPF_MILTER_EXIT_OK;
}
