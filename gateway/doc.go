// Package gateway serves the Kubernetes REST API over the event log, so that
// unmodified kubectl and client-go drive wake.
//
// Reads come from the projection; writes are admitted (internal/admission's
// chain, which every writer shares: defaults, validation, the deletion and
// grace rules) and turned into events appended with the expected sequence
// of the object's subject (optimistic concurrency through the log), and a
// write is acknowledged only once the projection has applied it, so the
// next read sees it.
//
// The package owns HTTP: routing (go-chi), authentication, discovery, content
// negotiation (JSON, YAML, Table; 406 for the rest), errors as
// metav1.Status, limits. A request's options (query parameters, and a
// DeleteOptions body) are read once, in options.go, as kube-apiserver reads
// them; handlers take them from the request's context. It must not keep
// state of its own beyond caches of the projection: any number of gateways
// may serve the same log.
package gateway
