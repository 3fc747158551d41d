// Package tables turns typed objects into the meta.k8s.io/v1 Table that
// kubectl asks for (Accept: application/json;as=Table;v=v1;g=meta.k8s.io),
// with the columns, cell formats and row objects kube-apiserver produces.
//
// It is wake's own rendition of kube-apiserver's printers
// (k8s.io/kubernetes/pkg/printers/internalversion), working on the versioned
// k8s.io/api types. Like the apiserver it always renders every column,
// including the -o wide ones (Priority 1): kubectl hides those itself.
//
// The package is pure: the time used for AGE and similar cells is passed in
// as now, and nothing here reads the clock, the log or the network. It owns
// only presentation; it must not decode stored bytes, default or validate
// objects (gateway and internal/admission do that), nor write HTTP.
package tables
