package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/kinds"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/ipam"
)

// ServiceNetwork configures what Services are given: the range cluster IPs
// come from, node ports, and where the `kubernetes` Service leads.
type ServiceNetwork struct {
	// CIDR is the service CIDR (kube-apiserver's
	// --service-cluster-ip-range). Default 10.96.0.0/12; its first address
	// is the `kubernetes` Service's.
	CIDR string
	// NodePorts is the node port range. Default 30000-32767 (admission
	// accepts requested node ports in the default range only).
	NodePorts string
	// AdvertiseAddress is the IP the `kubernetes` Service's endpoints name
	// (kube-apiserver's --advertise-address). Default 127.0.0.1.
	AdvertiseAddress string
	// AdvertisePort is the gateway's port behind it. Default 6443.
	AdvertisePort int32
}

// serviceNet is a parsed ServiceNetwork; err says why it is unusable.
type serviceNet struct {
	ips       *ipam.IPRange
	ports     ipam.PortRange
	advertise netip.Addr
	port      int32
	err       error
}

func newServiceNet(c ServiceNetwork) *serviceNet {
	n := &serviceNet{port: c.AdvertisePort}
	if c.CIDR == "" {
		c.CIDR = ipam.DefaultServiceCIDR
	}
	if c.NodePorts == "" {
		c.NodePorts = ipam.DefaultNodePortRange
	}
	if c.AdvertiseAddress == "" {
		c.AdvertiseAddress = "127.0.0.1"
	}
	if n.port == 0 {
		n.port = 6443
	}
	var err1, err2, err3 error
	n.ips, err1 = ipam.ParseIPRange(c.CIDR)
	n.ports, err2 = ipam.ParsePortRange(c.NodePorts)
	n.advertise, err3 = netip.ParseAddr(c.AdvertiseAddress)
	n.err = errors.Join(err1, err2, err3)
	return n
}

// maxProbes bounds how many free-looking candidates one allocation tries
// in the log before it gives up (taken values the projection already
// knows cost nothing and are not counted).
const maxProbes = 64

// claim is one record this request created.
type claim struct {
	ev  events.Event
	seq uint64
}

// allocation is what one Service write claimed; undo releases it.
type allocation struct {
	s      *Server
	claims []claim
}

// withAllocation wraps the commit of a Service write: it claims the cluster
// IP and node ports next needs that cur does not hold, commits, then frees
// what cur held and next no longer does (all of it when deleted). A failed
// commit releases what was claimed, so nothing half-written remains. Other
// kinds pass straight through.
func (s *Server) withAllocation(ctx context.Context, cur, next runtime.Object, deleted bool, commit func() (*projections.Object, error)) (*projections.Object, error) {
	svc, ok := next.(*corev1.Service)
	if !ok {
		return commit()
	}
	old, _ := cur.(*corev1.Service)
	var a *allocation
	if !deleted {
		var err error
		if a, err = s.allocate(ctx, old, svc); err != nil {
			return nil, err
		}
	}
	o, err := commit()
	if err != nil {
		a.undo(ctx)
		return nil, err
	}
	if old != nil {
		keep := svc
		if deleted {
			keep = nil
		}
		s.release(ctx, old, keep)
	}
	return o, nil
}

// allocate fills in and claims svc's cluster IP and node ports.
func (s *Server) allocate(ctx context.Context, old, svc *corev1.Service) (*allocation, error) {
	a := &allocation{s: s}
	if s.svcnet.err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("service network: %w", s.svcnet.err))
	}
	err := a.clusterIP(ctx, old, svc)
	if err == nil {
		err = a.nodePorts(ctx, old, svc)
	}
	if err != nil {
		a.undo(ctx)
		return nil, err
	}
	return a, nil
}

func (a *allocation) clusterIP(ctx context.Context, old, svc *corev1.Service) error {
	if !ipam.NeedsClusterIP(svc) {
		return nil
	}
	heldIPs, _ := ipam.Held(old)
	r := a.s.svcnet.ips
	fld := specPath.Child("clusterIPs")
	if len(svc.Spec.ClusterIPs) > 1 {
		return invalidService(svc, field.Invalid(fld, svc.Spec.ClusterIPs, "this cluster is single-stack: only one cluster IP can be allocated"))
	}
	owner := ipam.OwnerOf(svc)
	if svc.Spec.ClusterIP != "" {
		ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
		if err != nil {
			return invalidService(svc, field.Invalid(fld, svc.Spec.ClusterIPs, "must be a valid IP address"))
		}
		if slices.Contains(heldIPs, ip.Unmap()) {
			return nil
		}
		if !r.Contains(ip) {
			return invalidService(svc, field.Invalid(fld, svc.Spec.ClusterIPs,
				fmt.Sprintf("failed to allocate IP %s: the provided IP (%s) is not in the valid range. The range of valid IPs is %s", ip, ip, r)))
		}
		got, err := a.claim(ctx, ipam.IPRef(ip), owner)
		if err != nil {
			return err
		}
		if !got {
			return invalidService(svc, field.Invalid(fld, svc.Spec.ClusterIPs, fmt.Sprintf("failed to allocate IP %s: provided IP is already allocated", ip)))
		}
		return nil
	}
	probes := 0
	for ip := range r.Candidates(svc.Namespace + "/" + svc.Name) {
		if _, taken := a.s.proj.Get(ipam.IPRef(ip)); taken {
			continue
		}
		got, err := a.claim(ctx, ipam.IPRef(ip), owner)
		if err != nil {
			return err
		}
		if got {
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs = ip.String(), []string{ip.String()}
			if ip.Is6() {
				svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol}
			}
			return nil
		}
		if probes++; probes == maxProbes {
			break
		}
	}
	return apierrors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP: range is full"))
}

func (a *allocation) nodePorts(ctx context.Context, old, svc *corev1.Service) error {
	_, heldPorts := ipam.Held(old)
	owner := ipam.OwnerOf(svc)
	mine := slices.Clone(heldPorts) // held before, or claimed by this request
	request := func(fld *field.Path, port int32) error {
		if slices.Contains(mine, port) {
			return nil
		}
		if !a.s.svcnet.ports.Contains(port) {
			return invalidService(svc, field.Invalid(fld, port, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %s", a.s.svcnet.ports)))
		}
		got, err := a.claim(ctx, ipam.PortRef(port), owner)
		if err != nil {
			return err
		}
		if !got {
			return invalidService(svc, field.Invalid(fld, port, "provided port is already allocated"))
		}
		mine = append(mine, port)
		return nil
	}
	dynamic := func(seed string) (int32, error) {
		probes := 0
		for port := range a.s.svcnet.ports.Candidates(seed) {
			if _, taken := a.s.proj.Get(ipam.PortRef(port)); taken || slices.Contains(mine, port) {
				continue
			}
			got, err := a.claim(ctx, ipam.PortRef(port), owner)
			if err != nil {
				return 0, err
			}
			if got {
				mine = append(mine, port)
				return port, nil
			}
			if probes++; probes == maxProbes {
				break
			}
		}
		return 0, apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: range is full"))
	}
	ports := svc.Spec.Ports
	for i := range ports {
		if ports[i].NodePort != 0 {
			if err := request(specPath.Child("ports").Index(i).Child("nodePort"), ports[i].NodePort); err != nil {
				return err
			}
		}
	}
	if ipam.NeedsNodePorts(svc) {
		for i := range ports {
			if ports[i].NodePort != 0 {
				continue
			}
			// Ports that differ only in protocol share their node port, as
			// upstream allocates them.
			for j := range ports {
				if j != i && ports[j].Port == ports[i].Port && ports[j].NodePort != 0 {
					ports[i].NodePort = ports[j].NodePort
				}
			}
			if ports[i].NodePort != 0 {
				continue
			}
			p, err := dynamic(fmt.Sprintf("%s/%s/%d", svc.Namespace, svc.Name, i))
			if err != nil {
				return err
			}
			ports[i].NodePort = p
		}
	}
	if ipam.NeedsHealthCheckNodePort(svc) {
		if h := svc.Spec.HealthCheckNodePort; h != 0 {
			return request(specPath.Child("healthCheckNodePort"), h)
		}
		p, err := dynamic(svc.Namespace + "/" + svc.Name + "/health")
		if err != nil {
			return err
		}
		svc.Spec.HealthCheckNodePort = p
	}
	return nil
}

// claim creates the record ref for owner, expecting it absent; false when
// another Service holds it.
func (a *allocation) claim(ctx context.Context, ref events.Ref, owner ipam.Owner) (bool, error) {
	expect := uint64(0)
	last, err := a.s.log.Last(ctx, ref)
	switch {
	case errors.Is(err, events.ErrNotFound):
	case err != nil:
		return false, err
	case last.Type != events.ObjectDeleted:
		return false, nil
	default:
		expect = last.Seq
	}
	ev, err := a.s.recordWriter(ctx).Append(ctx, ipam.Event(ref, owner, a.s.now()), expect)
	if errors.Is(err, events.ErrConflict) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	a.claims = append(a.claims, claim{ev: ev, seq: ev.Seq})
	return true, nil
}

// recordWriter writes allocation records as the caller of ctx without
// waiting for the projection: claims read the log (Last), not the
// projection.
func (s *Server) recordWriter(ctx context.Context) events.Writer {
	w := s.writer(ctx)
	w.Applied = nil
	return w
}

// undo releases every claim, in reverse. It runs even when the request's
// context has ended: what was claimed must not stay behind.
func (a *allocation) undo(ctx context.Context) {
	if a == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	for i := len(a.claims) - 1; i >= 0; i-- {
		c := a.claims[i]
		a.s.deleteRecord(ctx, c.ev.Ref, c.ev.Data, c.seq)
	}
	a.claims = nil
}

// release frees the records old holds and keep (nil: nothing) does not.
func (s *Server) release(ctx context.Context, old, keep *corev1.Service) {
	ctx = context.WithoutCancel(ctx)
	kept := ipam.Refs(keep)
	for _, ref := range ipam.Refs(old) {
		if slices.Contains(kept, ref) {
			continue
		}
		o, ok := s.proj.Get(ref)
		if !ok {
			continue
		}
		var r ipam.Record
		if decodeJSON(o.Raw, &r) != nil || r.Owner() != ipam.OwnerOf(old) {
			continue // not old's: leave it to its holder
		}
		s.deleteRecord(ctx, ref, o.Raw, o.Seq)
	}
}

// deleteRecord deletes one record at seq. A failure is logged, not
// returned: the repair controller frees what is left behind.
func (s *Server) deleteRecord(ctx context.Context, ref events.Ref, data []byte, seq uint64) {
	apiVersion, kind := ipam.IPAPIVersion, ipam.IPKind
	if ref.Group == ipam.PortGroup {
		apiVersion, kind = ipam.PortAPIVersion, ipam.PortKind
	}
	ev := events.Event{Type: events.ObjectDeleted, Ref: ref, APIVersion: apiVersion, Kind: kind, Data: data}
	if _, err := s.recordWriter(ctx).Append(ctx, ev, seq); err != nil {
		s.logger.Warn("releasing an allocation failed; the repair controller will", "record", ref.String(), "err", err)
	}
}

// keepAllocated patches an update the way kube-apiserver does: a cluster
// IP or node port the update omits is kept while the new type still needs
// it, and dropped with the type that needed it.
func keepAllocated(cur, next runtime.Object) {
	old, ok1 := cur.(*corev1.Service)
	svc, ok2 := next.(*corev1.Service)
	if !ok1 || !ok2 {
		return
	}
	s, o := &svc.Spec, &old.Spec
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		if s.ClusterIP == o.ClusterIP && slices.Equal(s.ClusterIPs, o.ClusterIPs) {
			s.ClusterIP, s.ClusterIPs, s.IPFamilies, s.IPFamilyPolicy = "", nil, nil, nil
		}
	case ipam.NeedsClusterIP(old) && s.ClusterIP == "" && len(s.ClusterIPs) == 0:
		s.ClusterIP, s.ClusterIPs = o.ClusterIP, slices.Clone(o.ClusterIPs)
		if len(s.IPFamilies) == 0 {
			s.IPFamilies = slices.Clone(o.IPFamilies)
		}
	}
	needs := ipam.NeedsNodePorts(svc)
	for i := range s.Ports {
		p := &s.Ports[i]
		op := matchingPort(o.Ports, p)
		switch {
		case op == nil:
		case !needs && s.Type != corev1.ServiceTypeLoadBalancer && p.NodePort == op.NodePort:
			p.NodePort = 0
		case needs && p.NodePort == 0:
			p.NodePort = op.NodePort
		}
	}
	switch {
	case !ipam.NeedsHealthCheckNodePort(svc) && s.HealthCheckNodePort == o.HealthCheckNodePort:
		s.HealthCheckNodePort = 0
	case ipam.NeedsHealthCheckNodePort(old) && s.HealthCheckNodePort == 0:
		s.HealthCheckNodePort = o.HealthCheckNodePort
	}
}

// matchingPort is the old port p continues: same port and protocol, else
// same name.
func matchingPort(old []corev1.ServicePort, p *corev1.ServicePort) *corev1.ServicePort {
	for i := range old {
		if old[i].Port == p.Port && old[i].Protocol == p.Protocol {
			return &old[i]
		}
	}
	for i := range old {
		if p.Name != "" && old[i].Name == p.Name {
			return &old[i]
		}
	}
	return nil
}

func invalidService(svc *corev1.Service, err *field.Error) error {
	return apierrors.NewInvalid(serviceKind.GVK().GroupKind(), svc.Name, field.ErrorList{err})
}

var (
	serviceKind, _       = kinds.ByResource("", "services")
	endpointsKind, _     = kinds.ByResource("", "endpoints")
	endpointSliceKind, _ = kinds.ByResource("discovery.k8s.io", "endpointslices")
	specPath             = field.NewPath("spec")
)

func decodeJSON(raw []byte, into any) error { return json.Unmarshal(raw, into) }
