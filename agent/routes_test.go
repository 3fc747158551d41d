package agent

import (
	"strings"
	"testing"
)

func TestCheckNetworkConfig(t *testing.T) {
	ok := Config{ClusterCIDR: DefaultClusterCIDR}
	for _, tt := range []struct {
		name   string
		mutate func(*Config)
		err    string
	}{
		{"defaults", func(*Config) {}, ""},
		{"pod CIDR", func(c *Config) { c.PodCIDR = "10.244.3.0/24" }, ""},
		{"pod CIDR with host bits", func(c *Config) { c.PodCIDR = "10.244.3.1/24" }, "pod CIDR"},
		{"pod CIDR too small", func(c *Config) { c.PodCIDR = "10.244.3.0/31" }, "pod CIDR"},
		{"pod CIDR IPv6", func(c *Config) { c.PodCIDR = "fd00::/64" }, "pod CIDR"},
		{"cluster CIDR", func(c *Config) { c.ClusterCIDR = "banana" }, "cluster CIDR"},
		{"node IP", func(c *Config) { c.NodeIP = "192.0.2.10" }, ""},
		{"bad node IP", func(c *Config) { c.NodeIP = "node-1" }, "node IP"},
	} {
		c := ok
		tt.mutate(&c)
		err := checkNetworkConfig(c)
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.err)
		}
	}
}
