// Package endpointslice is the EndpointSlice controller: for every Service
// with a selector it keeps discovery.k8s.io/v1 EndpointSlices listing the
// selected pods, as Kubernetes' endpointslice controller does.
//
//	Service, pod or managed slice change ──► key (the Service)
//	Reconcile(view, key, now) ──► create / update / delete its slices
//
// Every pod with an IP that has not finished is an endpoint, with
// conditions ready (Ready and not terminating, or publishNotReadyAddresses),
// serving (Ready) and terminating; nodeName, zone (the node's
// topology.kubernetes.io/zone), hostname and targetRef are filled in.
// Target ports resolve per pod, so pods with different resolved ports go
// to different slices; a slice holds at most MaxEndpoints. Slices carry
// kubernetes.io/service-name and endpointslice.kubernetes.io/managed-by and
// are owned by their Service. A Service selecting nothing keeps one empty
// placeholder slice.
//
// Packing is deterministic: endpoints sorted by pod name, cut into chunks
// per port set, chunks assigned to the Service's existing slices in name
// order; new slices are named service-name + "-" + reconcile.NameSuffix of
// (Service uid, view sequence, index), so a replay names them alike. The
// controller touches only slices labelled as its own; selectorless
// Services are left alone.
package endpointslice
