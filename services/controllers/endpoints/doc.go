// Package endpoints is the Endpoints controller: for every Service with a
// selector it keeps the Endpoints object of the same name listing the
// selected pods, as Kubernetes' endpoint controller does.
//
//	Service, pod or Endpoints change ──► key (the Service; for a pod, the
//	                                     Services of its namespace whose
//	                                     selector matches it before or after)
//	Reconcile(view, key, now) ──► create / update / delete the Endpoints
//
// Semantics follow upstream: Ready pods go to addresses, others to
// notReadyAddresses (publishNotReadyAddresses puts every pod in addresses);
// terminating pods, finished pods and pods without an IP are left out;
// target ports are resolved per pod (a named port a pod lacks leaves that
// pod out of that port); subsets group addresses by identical port sets;
// more than MaxAddresses addresses are truncated with the over-capacity
// annotation. Services without a selector are left alone (their Endpoints
// belong to the user); the Endpoints of a deleted Service are deleted.
//
// Reconcile is pure. The package also exports the pod rules the
// EndpointSlice controller shares (FindPort, PodReady, Selected).
package endpoints
