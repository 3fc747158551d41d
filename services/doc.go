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
// controller.
package services
