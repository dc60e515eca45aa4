/* fuzz-vcard: vcard_parse on any bytes; every card found must write as
 * 4.0 and 3.0, and each written form must parse back to one card with the
 * same name, addresses and other fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/msg/charset.h"
#include "../../src/msg/vcard.h"

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_card(const struct vcard_card *c)
{
	if (!c->fn || !*c->fn || c->nemails > VCARD_MAX_EMAILS)
		abort();
	const char *fields[] = {c->fn, c->nickname, c->org, c->note, c->uid,
	                        c->tel};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (fields[i] && !msg_utf8_valid(fields[i], strlen(fields[i])))
			abort();
	for (size_t i = 0; i < c->nemails; i++)
		if (!c->emails[i][0] || !msg_utf8_valid(c->emails[i],
		                                         strlen(c->emails[i])))
			abort();
}

static void check_round_trip(const struct vcard_card *c, int version)
{
	struct buf out = BUF_INIT;
	if (vcard_write(c, version, &out) < 0)
		abort();
	struct vcard_list again = {0};
	long r = vcard_parse(out.data, out.len, &again, NULL);
	/* escaping can push a card near the limit over it */
	if (r < 0 || (r == 1 && out.len > VCARD_MAX_CARD_BYTES / 2)) {
		vcard_list_free(&again);
		buf_free(&out);
		return;
	}
	if (r != 0 || again.count != 1)
		abort();
	const struct vcard_card *b = &again.cards[0];
	if (!same(b->fn, c->fn) || b->nemails != c->nemails ||
	    !same(b->nickname, c->nickname) || !same(b->org, c->org) ||
	    !same(b->note, c->note) || !same(b->uid, c->uid) ||
	    !same(b->tel, c->tel))
		abort();
	for (size_t i = 0; i < c->nemails; i++)
		if (strcmp(b->emails[i], c->emails[i]))
			abort();
	for (int k = 0; k < VCARD_N_PARTS; k++)
		if (!same(b->n[k], c->n[k]))
			abort();
	vcard_list_free(&again);
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vcard_list list = {0};
	struct buf warnings = BUF_INIT;
	long skipped = vcard_parse((const char *)data, size, &list, &warnings);
	if (skipped > 0 && warnings.len == 0)
		abort();
	for (size_t i = 0; skipped >= 0 && i < list.count; i++) {
		check_card(&list.cards[i]);
		check_round_trip(&list.cards[i], 4);
		check_round_trip(&list.cards[i], 3);
	}
	vcard_list_free(&list);
	buf_free(&warnings);
	return 0;
}
