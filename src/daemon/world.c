/* world: loading and sharing config + users + aliases + TLS (see world.h). */
#include "world.h"

#include <stdlib.h>
#include <string.h>

#include "tls.h"

int world_needs_tls(const struct posthorn_config *cfg)
{
	for (size_t i = 0; i < cfg->nlisteners; i++)
		if (cfg->listeners[i].tls != CFG_TLS_NONE)
			return 1;
	return 0;
}

static int world_same_string(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static int world_load_tls(struct world *w, const struct world *old,
                          struct buf *err)
{
	struct buf why = BUF_INIT;
	w->tls = tls_context_new(w->cfg.tls_cert, w->cfg.tls_key, &why);
	if (!w->tls && old && old->tls &&
	    world_same_string(old->cfg.tls_cert, w->cfg.tls_cert) &&
	    world_same_string(old->cfg.tls_key, w->cfg.tls_key)) {
		/* Typically the key is root's and we are not root any more. */
		SSL_CTX_up_ref(old->tls);
		w->tls = old->tls;
	}
	if (!w->tls)
		buf_append(err, why.data, why.len);
	buf_free(&why);
	return w->tls ? 0 : -1;
}

static void world_free(struct world *w)
{
	if (w->tls)
		SSL_CTX_free(w->tls);
	aliases_free(&w->aliases);
	users_free(&w->users);
	config_free(&w->cfg);
	free(w);
}

struct world *world_load(const char *config_path, int want_tls,
                         const struct world *old, struct buf *err)
{
	struct world *w = calloc(1, sizeof *w);
	if (!w) {
		buf_puts(err, "out of memory");
		return NULL;
	}
	w->refs = 1;
	if (config_load(config_path, &w->cfg, err) < 0) {
		free(w);
		return NULL;
	}
	int ok = users_load(w->cfg.data_dir, &w->users, err) == 0 &&
	         aliases_load(w->cfg.data_dir, &w->aliases, err) == 0 &&
	         aliases_check(&w->aliases, &w->users, &w->cfg, err) == 0;
	if (ok && want_tls && world_needs_tls(&w->cfg))
		ok = world_load_tls(w, old, err) == 0;
	if (!ok) {
		world_free(w);
		return NULL;
	}
	return w;
}

struct world *world_ref(struct world *w)
{
	w->refs++;
	return w;
}

void world_unref(struct world **wp)
{
	struct world *w = *wp;
	if (!w)
		return;
	*wp = NULL;
	if (--w->refs == 0)
		world_free(w);
}
