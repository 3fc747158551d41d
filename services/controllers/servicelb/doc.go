// Package servicelb is wake's load balancer for clusters without a cloud,
// in the manner of k3s's ServiceLB: a Service of type LoadBalancer gets
// the InternalIP addresses of the Ready nodes as status.loadBalancer.ingress
// (the node ports, or the agent's rules, carry the traffic there).
//
//	Service or node change ──► key (the Service; for a node, every
//	                           LoadBalancer Service)
//	Reconcile(view, key, now) ──► a status update when ingress changed
//
// Services with spec.loadBalancerClass belong to another implementation
// and are left alone; a Service that stops being a LoadBalancer has its
// ingress cleared. Reconcile is pure and writes only Service status.
package servicelb
