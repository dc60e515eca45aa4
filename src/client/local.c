/* local: opening an account's local folder, turning the message numbers a
 * user typed into listing indexes, and loading one message (see local.h).
 * Every failure is printed here so the commands only pass statuses on. */
#include "local.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "connect.h"

/* The folder name as folder.c understands it: "INBOX" in any case is the
 * root, shown as "INBOX". A new string or NULL. */
static char *local_canonical(const char *name)
{
	return strdup(!name || !strcasecmp(name, "INBOX") ? "INBOX" : name);
}

/* Lists folder name of f's account into f->list, replacing f->name. */
static int local_list(struct local_folder *f, const char *name)
{
	struct buf why = BUF_INIT;
	int status = EXIT_OK;
	folder_list_free(&f->list);
	free(f->name);
	f->name = local_canonical(name);
	if (!f->name) {
		fprintf(stderr, "posthorn: %s\n", strerror(ENOMEM));
		return EXIT_LOCAL;
	}
	if (folder_list(f->root, f->name, &f->list, &why) < 0) {
		status = errno == EINVAL ? EXIT_USAGE : EXIT_INPUT;
		if (errno == ENOENT)
			fprintf(stderr, "posthorn: no folder '%s'; 'posthorn folders' "
			        "lists them\n", f->name);
		else if (errno == EINVAL && why.len)
			fprintf(stderr, "posthorn: %s\n", buf_cstr(&why));
		else
			fprintf(stderr, "posthorn: folder '%s': %s\n", f->name,
			        why.len ? buf_cstr(&why) : strerror(errno));
	}
	buf_free(&why);
	return status;
}

int local_open(struct local_folder *f, const char *folder)
{
	memset(f, 0, sizeof *f);
	int status = client_account(&f->cfg, NULL, &f->acct);
	if (status != 0)
		return status;
	f->root = f->acct->mail_dir;
	struct buf why = BUF_INIT;
	if (folder_root_init(f->root, &why) < 0) {
		fprintf(stderr, "posthorn: mail directory %s: %s\n", f->root,
		        why.len ? buf_cstr(&why) : strerror(errno));
		buf_free(&why);
		return EXIT_LOCAL;
	}
	buf_free(&why);
	return local_list(f, folder);
}

int local_switch(struct local_folder *f, const char *folder)
{
	return local_list(f, folder);
}

void local_close(struct local_folder *f)
{
	folder_list_free(&f->list);
	free(f->name);
	f->name = NULL;
	account_config_free(&f->cfg);
	f->acct = NULL;
	f->root = NULL;
}

/* Reads a message number at *s (digits only); numbers too large to be a
 * message become SIZE_MAX so they are reported as out of range. */
static int local_number(const char **s, size_t *v)
{
	const char *p = *s;
	size_t n = 0;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++)
		n = n > (SIZE_MAX - 9) / 10 ? SIZE_MAX : n * 10 + (size_t)(*p - '0');
	*s = p;
	*v = n;
	return 0;
}

static int local_out_of_range(const struct local_folder *f, size_t v)
{
	if (v == SIZE_MAX)
		fprintf(stderr, "posthorn: no such message in %s (it has %zu)\n",
		        f->name, f->list.n);
	else if (f->list.n == 0)
		fprintf(stderr, "posthorn: no message %zu in %s (it is empty)\n",
		        v, f->name);
	else
		fprintf(stderr, "posthorn: no message %zu in %s (it has %zu)\n",
		        v, f->name, f->list.n);
	return EXIT_INPUT;
}

/* Marks the numbers of spec in seen[] (one byte per message). */
static int local_mark(const struct local_folder *f, const char *spec,
                      unsigned char *seen)
{
	const char *s = spec;
	for (;;) {
		size_t a, b;
		if (local_number(&s, &a) < 0)
			break;
		b = a;
		if (*s == '-') {
			s++;
			if (local_number(&s, &b) < 0)
				break;
		}
		if (*s != ',' && *s != '\0')
			break;
		size_t lo = a < b ? a : b, hi = a < b ? b : a;
		if (lo == 0 || hi > f->list.n)
			return local_out_of_range(f, lo == 0 ? 0 : hi);
		for (size_t v = lo; v <= hi; v++)
			seen[v - 1] = 1;
		if (*s == '\0')
			return 0;
		s++;
	}
	fprintf(stderr, "posthorn: bad message number '%s': expected N, or a "
	        "list like 1,3,5-7\n", spec);
	return EXIT_USAGE;
}

int local_pick(const struct local_folder *f, const char *spec, size_t **idx,
               size_t *n)
{
	*idx = NULL;
	*n = 0;
	unsigned char *seen = calloc(f->list.n + 1, 1);
	if (!seen) {
		fprintf(stderr, "posthorn: %s\n", strerror(ENOMEM));
		return EXIT_LOCAL;
	}
	int status = local_mark(f, spec, seen);
	size_t count = 0;
	for (size_t i = 0; status == 0 && i < f->list.n; i++)
		count += seen[i];
	if (status == 0) {
		*idx = malloc(count * sizeof **idx + 1);
		if (!*idx) {
			fprintf(stderr, "posthorn: %s\n", strerror(ENOMEM));
			status = EXIT_LOCAL;
		}
	}
	for (size_t i = 0; status == 0 && i < f->list.n; i++)
		if (seen[i])
			(*idx)[(*n)++] = i;
	free(seen);
	return status;
}

int local_pick_one(const struct local_folder *f, const char *spec, size_t *i)
{
	const char *s = spec;
	size_t v;
	if (local_number(&s, &v) < 0 || *s != '\0') {
		fprintf(stderr, "posthorn: bad message number '%s': expected one "
		        "number (see 'posthorn list')\n", spec);
		return EXIT_USAGE;
	}
	if (v == 0 || v > f->list.n)
		return local_out_of_range(f, v);
	*i = v - 1;
	return 0;
}

int local_load(const struct local_folder *f, size_t i, struct util_input *in)
{
	if (i >= f->list.n) {
		memset(in, 0, sizeof *in);
		return local_out_of_range(f, i + 1);
	}
	return util_input_load(f->list.msgs[i].path, in);
}

void local_size(uint64_t bytes, char *out, size_t cap)
{
	static const char units[] = "KMGTPE";
	if (bytes < 1000) {
		snprintf(out, cap, "%u", (unsigned)bytes);
		return;
	}
	double v = (double)bytes / 1024;
	size_t u = 0;
	while (v >= 999.5 && u + 1 < sizeof units - 1) {
		v /= 1024;
		u++;
	}
	snprintf(out, cap, v < 9.95 ? "%.1f%c" : "%.0f%c", v, units[u]);
}
