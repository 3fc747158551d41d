package proxy

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/wakehq/wake/projections"
)

func TestDesired(t *testing.T) {
	vip := netip.MustParseAddr("10.96.0.10")
	tests := []struct {
		name    string
		changes []projections.Change
		want    []ServicePort // of default/web, in port order
	}{{
		name: "ready endpoints only, numbered port",
		changes: []projections.Change{
			change(projections.Added, svcRef("default", "web"), service("default", "web", "ClusterIP", "10.96.0.10", port{Port: 80})),
			change(projections.Added, sliceRef("default", "web-a"), endpointSlice("default", "web-a", "web", "IPv4",
				[]ep{{"10.244.0.3", yes}, {"10.244.0.2", nil}, {"10.244.0.4", no}}, port{Port: 8080})),
		},
		want: []ServicePort{{Name: "default/web:80", ClusterIP: vip, Protocol: protoTCP, Port: 80,
			Endpoints: epList(8080, "10.244.0.2", "10.244.0.3")}},
	}, {
		name: "named ports resolved by the slices, several slices, NodePort",
		changes: []projections.Change{
			change(projections.Added, svcRef("default", "web"), service("default", "web", "NodePort", "10.96.0.10",
				port{Name: "http", Port: 80, NodePort: 30080}, port{Name: "dns", Protocol: "UDP", Port: 53})),
			change(projections.Added, sliceRef("default", "web-a"), endpointSlice("default", "web-a", "web", "IPv4",
				[]ep{{"10.244.0.2", nil}}, port{Name: "http", Port: 8080}, port{Name: "dns", Protocol: "UDP", Port: 5353})),
			change(projections.Added, sliceRef("default", "web-b"), endpointSlice("default", "web-b", "web", "IPv4",
				[]ep{{"10.244.1.2", nil}}, port{Name: "http", Port: 9090})),
		},
		want: []ServicePort{
			{Name: "default/web:http", ClusterIP: vip, Protocol: protoTCP, Port: 80, NodePort: 30080,
				Endpoints: []Endpoint{{netip.MustParseAddr("10.244.0.2"), 8080}, {netip.MustParseAddr("10.244.1.2"), 9090}}},
			{Name: "default/web:dns", ClusterIP: vip, Protocol: protoUDP, Port: 53, Endpoints: epList(5353, "10.244.0.2")},
		},
	}, {
		name: "no endpoints: the port stays, empty (rejected in the kernel)",
		changes: []projections.Change{
			change(projections.Added, svcRef("default", "web"), service("default", "web", "ClusterIP", "10.96.0.10", port{Port: 80})),
		},
		want: []ServicePort{{Name: "default/web:80", ClusterIP: vip, Protocol: protoTCP, Port: 80}},
	}, {
		name: "headless ignored",
		changes: []projections.Change{
			change(projections.Added, svcRef("default", "web"), service("default", "web", "ClusterIP", "None", port{Port: 80})),
			change(projections.Added, sliceRef("default", "web-a"), endpointSlice("default", "web-a", "web", "IPv4", []ep{{"10.244.0.2", nil}}, port{Port: 80})),
		},
	}, {
		name: "ExternalName ignored",
		changes: []projections.Change{
			change(projections.Added, svcRef("default", "web"), service("default", "web", "ExternalName", "", port{Port: 80})),
		},
	}, {
		name: "IPv6 slices ignored, deleted slice drops its endpoints",
		changes: []projections.Change{
			change(projections.Added, svcRef("default", "web"), service("default", "web", "ClusterIP", "10.96.0.10", port{Port: 80})),
			change(projections.Added, sliceRef("default", "web-6"), endpointSlice("default", "web-6", "web", "IPv6", []ep{{"fd00::2", nil}}, port{Port: 80})),
			change(projections.Added, sliceRef("default", "web-a"), endpointSlice("default", "web-a", "web", "IPv4", []ep{{"10.244.0.2", nil}}, port{Port: 80})),
			change(projections.Deleted, sliceRef("default", "web-a"), endpointSlice("default", "web-a", "web", "IPv4", nil)),
		},
		want: []ServicePort{{Name: "default/web:80", ClusterIP: vip, Protocol: protoTCP, Port: 80}},
	}, {
		name: "slice of another service or namespace does not count",
		changes: []projections.Change{
			change(projections.Added, svcRef("default", "web"), service("default", "web", "ClusterIP", "10.96.0.10", port{Port: 80})),
			change(projections.Added, sliceRef("default", "db-a"), endpointSlice("default", "db-a", "db", "IPv4", []ep{{"10.244.0.2", nil}}, port{Port: 80})),
			change(projections.Added, sliceRef("other", "web-a"), endpointSlice("other", "web-a", "web", "IPv4", []ep{{"10.244.0.3", nil}}, port{Port: 80})),
		},
		want: []ServicePort{{Name: "default/web:80", ClusterIP: vip, Protocol: protoTCP, Port: 80}},
	}, {
		name: "service deleted",
		changes: []projections.Change{
			change(projections.Added, svcRef("default", "web"), service("default", "web", "ClusterIP", "10.96.0.10", port{Port: 80})),
			change(projections.Deleted, svcRef("default", "web"), service("default", "web", "ClusterIP", "10.96.0.10", port{Port: 80})),
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix := NewIndex()
			ix.Apply(tt.changes...)
			got := ix.Take()["default/web"]
			if len(got) != len(tt.want) {
				t.Fatalf("got %d ports %+v, want %d %+v", len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				if !got[i].Equal(&tt.want[i]) {
					t.Errorf("port %d:\n got %+v\nwant %+v", i, got[i], tt.want[i])
				}
			}
			if again := ix.Take(); len(again) != 0 {
				t.Errorf("Take twice returned %v", again)
			}
		})
	}
}

func TestThousandsOfEndpoints(t *testing.T) {
	ix := NewIndex()
	ix.Apply(change(projections.Added, svcRef("default", "big"), service("default", "big", "ClusterIP", "10.96.0.20", port{Port: 80})))
	for i := 0; i < 50; i++ {
		name := "big-" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		base := netip.AddrFrom4([4]byte{10, 244, byte(i), 1}).String()
		ix.Apply(change(projections.Added, sliceRef("default", name), endpointSlice("default", name, "big", "IPv4", addrs(100, base), port{Port: 8080})))
	}
	sps := ix.Take()["default/big"]
	if len(sps) != 1 || len(sps[0].Endpoints) != 5000 {
		t.Fatalf("got %d ports, %d endpoints; want 1 and 5000", len(sps), len(sps[0].Endpoints))
	}
	p := plan(nil, map[string][]ServicePort{"default/big": sps}, map[element]string{})
	if len(p.addChains) != 5001 || len(p.addElems) != 1 {
		t.Fatalf("plan adds %d chains and %d entries, want 5001 and 1", len(p.addChains), len(p.addElems))
	}
}

func TestPlanIsIncremental(t *testing.T) {
	vip := netip.MustParseAddr("10.96.0.10")
	two := ServicePort{Name: "default/web:80", ClusterIP: vip, Protocol: protoTCP, Port: 80, NodePort: 30080, Endpoints: epList(8080, "10.244.0.2", "10.244.0.3")}
	one := two
	one.Endpoints = epList(8080, "10.244.0.2")
	none := two
	none.Endpoints = nil
	live := map[string][]ServicePort{"default/web": {two}}
	owner := map[element]string{}
	plan(nil, live, owner)

	tests := []struct {
		name                            string
		to                              []ServicePort
		delElems, flush, delChains, add int
		addElems                        int
	}{
		{"unchanged", []ServicePort{two}, 0, 0, 0, 0, 0},
		{"one endpoint gone: rewrite the service chain, drop one endpoint chain", []ServicePort{one}, 0, 2, 1, 1, 0},
		{"no endpoints: entries move to the reject maps, chains go", []ServicePort{none}, 2, 4, 4, 0, 2},
		{"service gone", nil, 2, 4, 4, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := map[element]string{}
			for k, v := range owner {
				o[k] = v
			}
			p := plan(live, map[string][]ServicePort{"default/web": tt.to}, o)
			if len(p.delElems) != tt.delElems || len(p.flush) != tt.flush || len(p.delChains) != tt.delChains ||
				len(p.addChains) != tt.add || len(p.addElems) != tt.addElems {
				t.Fatalf("plan %+v", p)
			}
		})
	}
}

func TestPlanKeepsFirstOwnerOfACollidingKey(t *testing.T) {
	a := ServicePort{Name: "default/a:80", ClusterIP: netip.MustParseAddr("10.96.0.1"), Protocol: protoTCP, Port: 80, NodePort: 30080}
	b := ServicePort{Name: "default/b:80", ClusterIP: netip.MustParseAddr("10.96.0.2"), Protocol: protoTCP, Port: 80, NodePort: 30080}
	owner := map[element]string{}
	p := plan(nil, map[string][]ServicePort{"default/a": {a}, "default/b": {b}}, owner)
	if len(p.addElems) != 3 {
		t.Fatalf("want the NodePort once and both ClusterIPs: %+v", p.addElems)
	}
}

func TestDesiredSessionAffinity(t *testing.T) {
	raw := strings.Replace(string(service("default", "web", "ClusterIP", "10.96.0.10", port{Port: 80})),
		`"spec":{`, `"spec":{"sessionAffinity":"ClientIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":60}},`, 1)
	for _, tt := range []struct {
		raw  string
		want int32
	}{{raw, 60}, {strings.Replace(raw, `"timeoutSeconds":60`, ``, 1), 10800}} {
		sps := Desired([]byte(tt.raw), nil)
		if len(sps) != 1 || sps[0].AffinitySeconds != tt.want {
			t.Errorf("%s: %+v, want affinity %d", tt.raw, sps, tt.want)
		}
	}
}
