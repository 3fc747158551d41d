// Package dns is wake's cluster DNS: it answers for the cluster zone
// (cluster.local by default) the way CoreDNS's kubernetes plugin does, from
// the projection, and forwards every other name to the node's resolvers.
//
//	projection ──Watch──► Index (names → records, rebuilt per Service) ──► ServeDNS (UDP, TCP)
//	                                                                          │ out of zone
//	                                                                          ▼
//	                                                                   upstream resolvers
//
// Names it serves (zone Z, TTL 5 s, SOA in the authority section of every
// negative answer; NXDOMAIN for names that do not exist, NODATA for names
// that exist without the asked type, including empty non-terminals such as
// <ns>.svc.Z):
//
//   - <svc>.<ns>.svc.Z: A/AAAA of the ClusterIPs; for a headless Service
//     (clusterIP None) the ready endpoint addresses; for ExternalName a CNAME
//     (chased upstream when the target is outside the zone).
//   - _<port>._<proto>.<svc>.<ns>.svc.Z (named ports) and <svc>.<ns>.svc.Z:
//     SRV, targeting the Service name, or for a headless Service one record
//     per endpoint targeting <hostname>.<svc>.<ns>.svc.Z.
//   - <hostname>.<svc>.<ns>.svc.Z: A/AAAA of each ready endpoint. The
//     hostname is the endpoint's hostname, else that of the Pod it points to
//     when the Pod's spec.subdomain names the Service (StatefulSet pods),
//     else the address with dashes (10-1-2-3).
//   - <a-b-c-d>.<ns>.pod.Z: the address itself ("pods insecure"), for
//     namespaces that exist.
//   - PTR for ClusterIPs and endpoint addresses; other reverse names are
//     forwarded.
//
// Endpoints come from EndpointSlices labelled kubernetes.io/service-name;
// a Service with no slice falls back to its Endpoints object. Ready means
// conditions.ready unset or true, or the Service publishes not-ready
// addresses.
//
// The Index is maintained from projection changes (never a List per query)
// and is a pure function of the objects it has seen; the Server around it
// binds, waits for the projection, and forwards. It must not write to the
// log: DNS only reads. Every replica serves; there is no leader.
//
// Loops: upstreams equal to the server's own address are dropped, and every
// forwarded query carries an EDNS0 option with this server's nonce; a query
// that comes back with it is answered SERVFAIL instead of forwarded again.
package dns
