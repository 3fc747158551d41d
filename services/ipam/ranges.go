package ipam

import (
	"fmt"
	"hash/fnv"
	"math/big"
	"net/netip"
	"strconv"
	"strings"
)

// Defaults, as kube-apiserver's --service-cluster-ip-range and
// --service-node-port-range.
const (
	DefaultServiceCIDR   = "10.96.0.0/12"
	DefaultNodePortRange = "30000-32767"
)

// IPRange is the service CIDR. Its first address (.1) belongs to the
// `kubernetes` Service and is never handed out dynamically; for IPv4 the
// network and broadcast addresses are never used at all.
type IPRange struct {
	prefix netip.Prefix
	base   netip.Addr // the first usable address
	size   uint64     // usable addresses from base on
}

// maxHostBits bounds the range so offsets fit a uint64 and probing stays
// cheap (Kubernetes caps service CIDRs at /108 for IPv6, 20 host bits).
const maxHostBits = 24

// ParseIPRange parses a service CIDR such as 10.96.0.0/12.
func ParseIPRange(cidr string) (*IPRange, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(cidr))
	if err != nil {
		return nil, fmt.Errorf("service CIDR %q: %w", cidr, err)
	}
	if p != p.Masked() {
		return nil, fmt.Errorf("service CIDR %q: host bits are set (did you mean %s?)", cidr, p.Masked())
	}
	host := p.Addr().BitLen() - p.Bits()
	if host > maxHostBits {
		return nil, fmt.Errorf("service CIDR %q: too large, at most %d host bits (/%d)", cidr, maxHostBits, p.Addr().BitLen()-maxHostBits)
	}
	size := uint64(1)<<host - 1 // without the network address
	if p.Addr().Is4() {
		size-- // nor the broadcast address
	}
	if size < 2 {
		return nil, fmt.Errorf("service CIDR %q: too small", cidr)
	}
	return &IPRange{prefix: p, base: p.Addr().Next(), size: size}, nil
}

// String is the CIDR.
func (r *IPRange) String() string { return r.prefix.String() }

// First is the address of the `kubernetes` Service.
func (r *IPRange) First() netip.Addr { return r.base }

// Contains reports whether a may be allocated: inside the CIDR, and not
// its network or (IPv4) broadcast address.
func (r *IPRange) Contains(a netip.Addr) bool {
	a = a.Unmap()
	if !r.prefix.Contains(a) || a.Less(r.base) {
		return false
	}
	return offset(r.base, a) < r.size
}

// Candidates yields every dynamically allocatable address once, starting
// at a hash of seed (the Service's namespace/name) and probing linearly.
// The first address is skipped: it is the `kubernetes` Service's.
func (r *IPRange) Candidates(seed string) func(yield func(netip.Addr) bool) {
	return func(yield func(netip.Addr) bool) {
		n := r.size - 1
		start := hash(seed) % n
		for i := uint64(0); i < n; i++ {
			if !yield(add(r.base, 1+(start+i)%n)) {
				return
			}
		}
	}
}

// PortRange is the node port range.
type PortRange struct {
	Base, Size int32
}

// ParsePortRange parses "30000-32767".
func ParsePortRange(s string) (PortRange, error) {
	lo, hi, ok := strings.Cut(strings.TrimSpace(s), "-")
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if !ok || err1 != nil || err2 != nil || a < 1 || b > 65535 || a > b {
		return PortRange{}, fmt.Errorf("node port range %q: want LOW-HIGH within 1-65535", s)
	}
	return PortRange{Base: int32(a), Size: int32(b - a + 1)}, nil
}

// String is "30000-32767".
func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.Base, r.Base+r.Size-1) }

// Contains reports whether port lies in the range.
func (r PortRange) Contains(port int32) bool { return port >= r.Base && port < r.Base+r.Size }

// Candidates yields every port once, from a hash of seed on.
func (r PortRange) Candidates(seed string) func(yield func(int32) bool) {
	return func(yield func(int32) bool) {
		n := uint64(r.Size)
		start := hash(seed) % n
		for i := uint64(0); i < n; i++ {
			if !yield(r.Base + int32((start+i)%n)) {
				return
			}
		}
	}
}

func hash(seed string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(seed))
	return h.Sum64()
}

func add(a netip.Addr, n uint64) netip.Addr {
	b := a.AsSlice()
	v := new(big.Int).SetBytes(b)
	v.Add(v, new(big.Int).SetUint64(n))
	out := v.FillBytes(make([]byte, len(b)))
	r, _ := netip.AddrFromSlice(out)
	return r
}

func offset(from, to netip.Addr) uint64 {
	a := new(big.Int).SetBytes(from.AsSlice())
	b := new(big.Int).SetBytes(to.AsSlice())
	return b.Sub(b, a).Uint64()
}
