/*
 * http/http_metrics.h (private to gateway/http/): what the server tells the request metrics
 * (http_metrics.c) when a labelled request's handler returns.
 */
#ifndef HTTP_METRICS_H
#define HTTP_METRICS_H

#include "http.h"

/* The labels http_req_set_op gave req. Worker only. */
void http_req_op(const http_req_t *req, unsigned *api, unsigned *op);
/* Counts req (labelled, its handler returned) in m: status, latencies, bytes. Lock-free. */
void http_metrics_observe(http_metrics_t *m, const http_req_t *req);

#endif
