// Package hpa is the HorizontalPodAutoscaler controller (autoscaling/v2)
// for the resource metrics wake serves: cpu and memory, as average
// utilization of the pods' requests or as an average value.
//
//	every Interval (15 s), or an HPA added or its spec changed
//	  ──► key (the HPA)
//	Loop: target (Deployment, StatefulSet, ReplicaSet) ──► its pods
//	      ──► Metrics.PodUsage (the pods' agents over NATS; bounded wait)
//	      (Metrics is defined here and passed in by the wiring, cmd/wake,
//	      so that this package does not import the agent)
//	Reconcile(view, key, usage, history, now) ──► target spec.replicas
//	      (a scale update, as kubectl scale writes it) and HPA status when
//	      they changed; the new recommendation history
//
// Reconcile is pure: usage, history and time come in as arguments. The
// arithmetic follows upstream's replica calculator (tolerance 10%, missing
// metrics assumed conservatively, max over metrics, scale-up limit of
// max(2×current, 4)) and its scale-down stabilization: the highest
// recommendation of the last 300 s (or spec.behavior.scaleDown's
// stabilizationWindowSeconds) wins. As upstream, that history lives in
// memory only: after a restart or a change of the lease holder the window
// starts empty, so the first scale-down may come up to one window early.
// Other fields of spec.behavior (policies, scale-up stabilization) are not
// applied. Pods count when Running, not being deleted, and measured;
// upstream's CPU readiness rule (unready pods ignored for scale-up) is not
// applied.
//
// It must not write anything but the target's spec.replicas and the HPA's
// status, and must not fail a reconcile for a metrics problem: that is a
// condition on the HPA, retried at the next interval.
package hpa
