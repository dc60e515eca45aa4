/* deliver: resolving and delivering to local recipients (see deliver.h). */
#include "deliver.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "../store/maildir.h"

void deliver_name(const char *local, size_t len, char *out, size_t outlen)
{
	size_t n = 0;
	for (; n < len && local[n] && n + 1 < outlen; n++)
		out[n] = (char)tolower((unsigned char)local[n]);
	out[n] = '\0';
	char *plus = strchr(out, '+');
	if (plus && plus != out)
		*plus = '\0';
}

int deliver_resolve(const struct aliases *al, const struct users *db,
                  const struct posthorn_config *cfg, const char *local,
                  size_t len, struct strlist *users, struct strlist *remote,
                  struct buf *why)
{
	char name[DELIVER_NAME_MAX + 1];
	struct buf err = BUF_INIT;
	deliver_name(local, len, name, sizeof name);
	int rc = aliases_expand(al, db, cfg, name, users, remote, &err);
	if (rc < 0)
		buf_printf(why, "alias expansion of %s failed: %s", name,
		           buf_cstr(&err));
	buf_free(&err);
	return rc;
}

int deliver_local(const struct posthorn_config *cfg,
                  const struct strlist *users, const char *src, size_t size,
                  unsigned long long vsize, size_t *delivered,
                  struct buf *why)
{
	struct buf path = BUF_INIT;
	int rc = 0;
	for (size_t i = 0; i < users->count; i++) {
		buf_reset(&path);
		const char *user = users->items[i];
		if (maildir_user_path(cfg->data_dir, user, &path) < 0 ||
		    maildir_deliver(buf_cstr(&path), src, size, vsize,
		                    cfg->hostname, NULL, why) < 0) {
			int saved = errno;
			buf_printf(why, " (user %s)", user);
			errno = saved;
			rc = -1;
			break;
		}
		(*delivered)++;
	}
	int saved = errno;
	buf_free(&path);
	errno = saved;
	return rc;
}
