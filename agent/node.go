package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/lease"
	"github.com/wakehq/wake/services/reconcile"
)

var (
	nodeKind = reconcile.MustKind("", "nodes")
	podKind  = reconcile.MustKind("", "pods")
)

// KubeletVersion is the version the agent reports as its kubelet's.
const KubeletVersion = "v1.37.2-wake"

// MaxPods is the pods capacity of a node, the kubelet's default.
const MaxPods = 110

// Machine is what the node reports of the machine it runs on; MachineInfo
// reads it, tests may make one up.
type Machine struct {
	Hostname   string
	InternalIP string
	CPUs       int
	Memory     int64 // bytes
	Storage    int64 // bytes of the state directory's file system
	Kernel     string
	OSImage    string
	Arch       string
	MachineID  string
	BootID     string
}

// MachineInfo reads the machine: CPUs, /proc/meminfo, statfs of stateDir,
// uname, /etc/os-release, the address of the default route's interface.
func MachineInfo(stateDir string) Machine {
	m := Machine{CPUs: goruntime.NumCPU(), Arch: goruntime.GOARCH}
	m.Hostname, _ = os.Hostname()
	m.Memory = memTotal()
	var st unix.Statfs_t
	if unix.Statfs(stateDir, &st) == nil {
		m.Storage = int64(st.Blocks) * st.Bsize
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = string(bytes.TrimRight(u.Release[:], "\x00"))
	}
	m.OSImage = osImage()
	m.InternalIP = internalIP()
	m.MachineID = readTrim("/etc/machine-id")
	m.BootID = readTrim("/proc/sys/kernel/random/boot_id")
	return m
}

func readTrim(p string) string {
	b, _ := os.ReadFile(p)
	return strings.TrimSpace(string(b))
}

func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func osImage() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"'`)
		}
	}
	return "Linux"
}

// internalIP is the local address the kernel would use to reach the
// outside world (no packet is sent), else the first global IPv4 address.
func internalIP() string {
	if c, err := net.Dial("udp4", "192.0.2.1:9"); err == nil {
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).IP.String()
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.String()
		}
	}
	return "127.0.0.1"
}

// nodeStatus is the status the agent reports for its node at now, keeping
// the transition time of a Ready condition that was already True.
func nodeStatus(m Machine, version string, prev *corev1.NodeStatus, now time.Time) corev1.NodeStatus {
	ts := metav1.NewTime(now.UTC().Truncate(time.Second))
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(int64(m.CPUs), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(m.Memory, resource.BinarySI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(m.Storage, resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(MaxPods, resource.DecimalSI),
	}
	st := corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity.DeepCopy(),
		Phase:       "",
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: m.InternalIP},
			{Type: corev1.NodeHostName, Address: m.Hostname},
		},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID: m.MachineID, BootID: m.BootID,
			KernelVersion: m.Kernel, OSImage: m.OSImage,
			ContainerRuntimeVersion: "wake://" + version,
			KubeletVersion:          KubeletVersion,
			OperatingSystem:         "linux", Architecture: m.Arch,
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}},
	}
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		c := corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: ts, LastTransitionTime: ts}
		if prev != nil {
			for _, p := range prev.Conditions {
				if p.Type == t && p.Status == s {
					c.LastTransitionTime, c.LastHeartbeatTime = p.LastTransitionTime, p.LastHeartbeatTime
				}
			}
		}
		return c
	}
	st.Conditions = []corev1.NodeCondition{
		cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
		cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
		cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
		cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"),
	}
	if prev != nil {
		st.Images = prev.Images
		st.VolumesInUse, st.VolumesAttached = prev.VolumesInUse, prev.VolumesAttached
	}
	return st
}

// nodeLabels are the well-known labels of the node.
func nodeLabels(name string, m Machine) map[string]string {
	return map[string]string{
		corev1.LabelHostname:      name,
		corev1.LabelOSStable:      "linux",
		corev1.LabelArchStable:    m.Arch,
		"beta.kubernetes.io/os":   "linux",
		"beta.kubernetes.io/arch": m.Arch,
	}
}

// registerNode creates the node, or adopts it: its labels and status are
// brought up to date (one event each, only when they changed). It returns
// the node as registered.
func (a *Agent) registerNode(ctx context.Context) (*corev1.Node, error) {
	ref := events.Ref{Resource: "nodes", Name: a.cfg.NodeName}
	for attempt := 0; ; attempt++ {
		node, err := a.syncNode(ctx, ref)
		if err == nil || attempt >= 10 || !isConflict(err) {
			return node, err
		}
		if err := a.catchUp(ctx); err != nil {
			return nil, err
		}
	}
}

func (a *Agent) syncNode(ctx context.Context, ref events.Ref) (*corev1.Node, error) {
	now := a.now()
	o, ok := a.cfg.View.Get(ref)
	if !ok {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Labels: nodeLabels(a.cfg.NodeName, a.machine)}}
		node.Spec.PodCIDR, node.Spec.PodCIDRs = a.cfg.PodCIDR, podCIDRs(a.cfg.PodCIDR) // --pod-cidr, at creation
		node.Status = nodeStatus(a.machine, a.cfg.Version, nil, now)
		a.eviction.SetNodeConditions(&node.Status, nil)
		ap, err := reconcile.Create(nodeKind, node, now, "node/"+a.cfg.NodeName+"/"+strconv.FormatInt(now.UnixNano(), 10))
		if err != nil {
			return nil, err
		}
		if _, err := a.append(ctx, ap); err != nil {
			return nil, err
		}
		o, _ = a.cfg.View.Get(ref)
		if o == nil {
			return nil, fmt.Errorf("node %s: not in the view after its creation", a.cfg.NodeName)
		}
		return decodeNode(o)
	}
	node, err := decodeNode(o)
	if err != nil {
		return nil, err
	}
	labels := node.Labels
	missing := false
	for k, v := range nodeLabels(a.cfg.NodeName, a.machine) {
		if labels[k] != v {
			missing = true
		}
	}
	if missing {
		node = node.DeepCopy()
		if node.Labels == nil {
			node.Labels = map[string]string{}
		}
		for k, v := range nodeLabels(a.cfg.NodeName, a.machine) {
			node.Labels[k] = v
		}
		ap, err := reconcile.Update(nodeKind, node, o, events.ChangeMetadata)
		if err != nil {
			return nil, err
		}
		if _, err := a.append(ctx, ap); err != nil {
			return nil, err
		}
		if o, _ = a.cfg.View.Get(ref); o == nil {
			return nil, fmt.Errorf("node %s deleted", a.cfg.NodeName)
		}
		if node, err = decodeNode(o); err != nil {
			return nil, err
		}
	}
	return a.updateNodeStatus(ctx, o, node)
}

// updateNodeStatus appends the node's status when it differs from what the
// agent would report (ignoring heartbeat times): after an adoption, or when
// the node lifecycle controller marked it Unknown.
func (a *Agent) updateNodeStatus(ctx context.Context, o *projections.Object, node *corev1.Node) (*corev1.Node, error) {
	want := nodeStatus(a.machine, a.cfg.Version, &node.Status, a.now())
	a.eviction.SetNodeConditions(&want, &node.Status)
	if sameNodeStatus(node.Status, want) {
		return node, nil
	}
	next := node.DeepCopy()
	next.Status = want
	ap, err := reconcile.Update(nodeKind, next, o, events.ChangeStatus)
	if err != nil {
		return nil, err
	}
	if _, err := a.append(ctx, ap); err != nil {
		return nil, err
	}
	if o, ok := a.cfg.View.Get(o.Ref); ok {
		return decodeNode(o)
	}
	return next, nil
}

func sameNodeStatus(a, b corev1.NodeStatus) bool {
	strip := func(s corev1.NodeStatus) []byte {
		s = *s.DeepCopy()
		for i := range s.Conditions {
			s.Conditions[i].LastHeartbeatTime = metav1.Time{}
		}
		b, _ := json.Marshal(s)
		return b
	}
	return bytes.Equal(strip(a), strip(b))
}

func decodeNode(o *projections.Object) (*corev1.Node, error) {
	var n corev1.Node
	return &n, reconcile.DecodeInto(o, &n)
}

// heartbeat beats every period and keeps the node's status (Ready True)
// in the log when something else changed it.
func (a *Agent) heartbeat(ctx context.Context) error {
	kv, err := lease.OpenHeartbeats(ctx, a.cfg.Log.JetStream())
	if err != nil {
		return err
	}
	t := time.NewTicker(a.cfg.HeartbeatPeriod)
	defer t.Stop()
	ref := events.Ref{Resource: "nodes", Name: a.cfg.NodeName}
	for {
		if err := lease.Beat(ctx, kv, a.cfg.NodeName, a.now()); err != nil && ctx.Err() == nil {
			a.log.Warn("heartbeat failed", "err", err)
		}
		if o, ok := a.cfg.View.Get(ref); ok {
			if node, err := decodeNode(o); err == nil {
				if _, err := a.updateNodeStatus(ctx, o, node); err != nil && ctx.Err() == nil {
					a.log.Warn("node status not updated", "err", err)
				}
			}
		} else if _, err := a.registerNode(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("node not registered again", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
