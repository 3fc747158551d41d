package proxy

import (
	"encoding/binary"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TableName is the one table the proxy owns (family ip).
const TableName = "wake"

// masqMark is the packet mark bit that asks nat-postrouting to masquerade
// (kube-proxy's 0x4000).
const masqMark = 0x4000

// Named maps and fixed chains.
const (
	mapServiceIPs      = "service-ips"           // ip . proto . port → goto service-<hash>
	mapNodePorts       = "service-nodeports"     // proto . port → goto external-<hash>
	mapNoEndpointIPs   = "no-endpoint-services"  // ip . proto . port → goto reject
	mapNoEndpointPorts = "no-endpoint-nodeports" // proto . port → goto reject
	chainServices      = "services"
	chainNoEndpoints   = "no-endpoints"
	chainReject        = "reject"
)

// Expressions: the registers follow nft's concatenation layout (register 1
// is the first 32-bit word, 9 and 10 the next ones).

func loadDaddrProtoPort() []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 9},
		&expr.Payload{DestRegister: 10, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
	}
}

func loadLocalProtoPort() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Payload{DestRegister: 9, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
	}
}

func vmap(s *nftables.Set) expr.Any {
	return &expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID, DestRegister: 0, IsDestRegSet: true}
}

func setMasqMark() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(^uint32(masqMark)), Xor: binaryutil.NativeEndian.PutUint32(masqMark)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	}
}

func gotoChain(name string) *expr.Verdict { return &expr.Verdict{Kind: expr.VerdictGoto, Chain: name} }

// Keys of the named maps.

func ipKey(sp *ServicePort) []byte {
	k := make([]byte, 12)
	copy(k, sp.ClusterIP.AsSlice())
	k[4] = sp.Protocol
	binary.BigEndian.PutUint16(k[8:], sp.Port)
	return k
}

func nodePortKey(sp *ServicePort) []byte {
	k := make([]byte, 8)
	k[0] = sp.Protocol
	binary.BigEndian.PutUint16(k[4:], sp.NodePort)
	return k
}

// element is one entry of a named map.
type element struct {
	set   string
	key   string
	chain string // the verdict: goto chain
}

// elements are the named-map entries of sp.
func elements(sp *ServicePort) []element {
	if sp == nil {
		return nil
	}
	if len(sp.Endpoints) == 0 {
		out := []element{{mapNoEndpointIPs, string(ipKey(sp)), chainReject}}
		if sp.NodePort != 0 {
			out = append(out, element{mapNoEndpointPorts, string(nodePortKey(sp)), chainReject})
		}
		return out
	}
	out := []element{{mapServiceIPs, string(ipKey(sp)), sp.Chain()}}
	if sp.NodePort != 0 {
		out = append(out, element{mapNodePorts, string(nodePortKey(sp)), sp.ExternalChain()})
	}
	return out
}

// chains are the per-service chains sp needs, with a digest of their
// content (equal digest: nothing to rewrite).
func chains(sp *ServicePort) map[string]string {
	out := map[string]string{}
	if sp == nil || len(sp.Endpoints) == 0 {
		return out
	}
	digest := ""
	kind := "endpoint"
	if sp.AffinitySeconds > 0 {
		kind = "endpoint-affinity"
	}
	for _, e := range sp.Endpoints {
		out[sp.EndpointChain(e)] = kind
		digest += sp.EndpointChain(e) + ","
	}
	out[sp.Chain()] = digest
	if sp.NodePort != 0 {
		out[sp.ExternalChain()] = "external"
	}
	return out
}
