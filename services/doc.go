// Package services holds wake's control loops: the scheduler and the
// controllers. Each is an independent service that reads a projection of the
// log, decides with a pure function of (view, key, now), and appends its
// decisions as events with expected sequences — no locks, no lost or double
// decisions. They talk to the rest of wake only through the log.
//
//	log ──► projection ──► changes ──► keys ──► queue ──► Reconcile(view, key, now)
//	 ▲                                                          │
//	 └──────────── Append(event, expect) ◄──────── []Append ◄───┘
//
// reconcile/ is the loop they share; controllers/<name>/ one package per
// controller; scheduler/ the scheduler.
//
// Beside the loops live the services that are not loops but serve the
// cluster from the log the same way, and the libraries only they share:
//
//   - dns/: cluster DNS (cluster.local) answered from the projection; the
//     agents and `wake dns` run it.
//   - sink/: delivery of events to CloudEvents HTTP sinks (durable
//     consumers, no writes to the log).
//   - ipam/: the race-free allocation of ClusterIPs and NodePorts through
//     the log, for the gateway's Service admission and the repair loop.
//   - lease/: leader election and node heartbeats in KV buckets.
//
// A reader should not confuse this folder with Kubernetes Services (the
// kind): those are served by gateway/ (services.go) and given addresses
// by ipam/ and endpoints by controllers/endpoints and endpointslice.
package services
