/*
 * authwatch.h - the request-header configuration from the cluster
 * (internal to server/).
 *
 * Without --requestheader-client-ca-file, an extension API server takes
 * its front-proxy CA, allowed names and header names from the ConfigMap
 * kube-system/extension-apiserver-authentication, which kube-apiserver
 * keeps current (k8s.io/apiserver's RequestHeaderAuthRequestController and
 * DynamicCAFromConfigMapController).  The watch reads it once at start and
 * then again periodically on a thread of its own, and publishes each new
 * configuration whole (authn_update); a read that fails keeps the
 * configuration in use and is logged.
 */
#ifndef RFC2136_AUTHWATCH_H
#define RFC2136_AUTHWATCH_H

struct authn;
struct k8s_client;

#define AUTHWATCH_NAMESPACE "kube-system"
#define AUTHWATCH_CONFIGMAP "extension-apiserver-authentication"
#define AUTHWATCH_CA_KEY    "requestheader-client-ca-file"

struct authn_watch;

/*
 * Read the ConfigMap through @api into @authn now, then every
 * @interval_ms (more often, at most every 5 s, while no CA is known yet)
 * until authn_watch_stop().  @authn and @api are borrowed and must outlive
 * the watch.  A failed first read is logged, not an error: the server
 * starts unready and keeps trying.  Returns 0 or a negated errno (no
 * thread).
 */
int authn_watch_start(struct authn_watch **watch, struct authn *authn,
		      struct k8s_client *api, unsigned interval_ms);

/* Stop the thread and free the watch.  NULL-safe. */
void authn_watch_stop(struct authn_watch *watch);

/*
 * Read the ConfigMap once into @authn.  Returns 1 when the configuration
 * changed, 0 when it did not, or a negative code with @err set (the old
 * configuration stays).
 */
int authn_watch_read(struct authn *authn, struct k8s_client *api, char *err,
		     size_t errlen);

#endif /* RFC2136_AUTHWATCH_H */
