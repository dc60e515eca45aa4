/* stdio: posthornd --stdio smtp|pop3, one session on standard input and
 * output (like sendmail -bs), so golden dialogues run without a network.
 * The peer is 127.0.0.1 ("localhost"), TLS is unavailable and jobs run
 * inline. */
#ifndef POSTHORN_STDIO_H
#define POSTHORN_STDIO_H

#include "proto.h"
#include "world.h"

/* Runs a session of ops until QUIT, a 421/-ERR close or end of input. session_id is the
 * id for logs and trace headers (NULL: a random one; a fixed one keeps
 * golden dialogues stable). Returns the exit status: 0, or 71
 * (EX_OSERR) when the session could not be created or input failed. */
int stdio_run(struct world *w, const struct proto_ops *ops,
              const char *session_id);

#endif
