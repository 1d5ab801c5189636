/*
 * http/http_tls.h: what the server (http_server.c) needs of the TLS configuration (http_tls.c).
 * Private to the http room.
 */
#ifndef HTTP_TLS_H
#define HTTP_TLS_H

#include <h2o/socket.h>

#include "http.h"

/* Starts the server side of a TLS handshake on a just-accepted socket with tls's current
 * certificates (loop thread). cb runs once the handshake is done (err NULL: the socket now
 * reads and writes plaintext) or failed. Cannot fail otherwise. */
void http_tls_handshake(http_tls_t *tls, h2o_socket_t *sock, h2o_socket_cb cb);

#endif
