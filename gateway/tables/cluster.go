package tables

import (
	"fmt"
	"sort"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var (
	nodeInfoDoc   = corev1.NodeSystemInfo{}.SwaggerDoc()
	nodeStatusDoc = corev1.NodeStatus{}.SwaggerDoc()
)

var nodePrinter = typed([]metav1.TableColumnDefinition{
	colName,
	col("Status", "string", "The status of the node"),
	col("Roles", "string", "The roles of the node"),
	colAge,
	col("Version", "string", nodeInfoDoc["kubeletVersion"]),
	wide(col("Internal-IP", "string", nodeStatusDoc["addresses"])),
	wide(col("External-IP", "string", nodeStatusDoc["addresses"])),
	wide(col("OS-Image", "string", nodeInfoDoc["osImage"])),
	wide(col("Kernel-Version", "string", nodeInfoDoc["kernelVersion"])),
	wide(col("Container-Runtime", "string", nodeInfoDoc["containerRuntimeVersion"])),
}, func(n *corev1.Node, now time.Time) ([]any, error) {
	info := n.Status.NodeInfo
	return []any{
		n.Name, nodeStatus(n), orNone(strings.Join(nodeRoles(n), ",")), age(n.CreationTimestamp, now), info.KubeletVersion,
		nodeAddress(n, corev1.NodeInternalIP), nodeAddress(n, corev1.NodeExternalIP),
		orUnknown(info.OSImage), orUnknown(info.KernelVersion), orUnknown(info.ContainerRuntimeVersion),
	}, nil
})

// nodeStatus is Ready, NotReady or Unknown (no Ready condition), then
// SchedulingDisabled when cordoned. The last Ready condition counts, as in
// upstream's condition map.
func nodeStatus(n *corev1.Node) string {
	status := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			status = "NotReady"
			if c.Status == corev1.ConditionTrue {
				status = "Ready"
			}
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	return status
}

const (
	nodeRolePrefix = "node-role.kubernetes.io/"
	nodeRoleLabel  = "kubernetes.io/role"
)

// nodeRoles are the sorted, distinct roles named by node-role.kubernetes.io/<role>
// label keys and the kubernetes.io/role label's value.
func nodeRoles(n *corev1.Node) []string {
	set := map[string]bool{}
	for k, v := range n.Labels {
		switch {
		case strings.HasPrefix(k, nodeRolePrefix) && len(k) > len(nodeRolePrefix):
			set[strings.TrimPrefix(k, nodeRolePrefix)] = true
		case k == nodeRoleLabel && v != "":
			set[v] = true
		}
	}
	roles := make([]string, 0, len(set))
	for r := range set {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	return roles
}

func nodeAddress(n *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range n.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return "<none>"
}

func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}

var namespacePrinter = typed([]metav1.TableColumnDefinition{
	colName,
	col("Status", "string", "The status of the namespace"),
	colAge,
}, func(ns *corev1.Namespace, now time.Time) ([]any, error) {
	return []any{ns.Name, string(ns.Status.Phase), age(ns.CreationTimestamp, now)}, nil
})

var configMapPrinter = typed([]metav1.TableColumnDefinition{
	colName,
	col("Data", "string", corev1.ConfigMap{}.SwaggerDoc()["data"]),
	colAge,
}, func(cm *corev1.ConfigMap, now time.Time) ([]any, error) {
	return []any{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), age(cm.CreationTimestamp, now)}, nil
})

var secretDoc = corev1.Secret{}.SwaggerDoc()

var secretPrinter = typed([]metav1.TableColumnDefinition{
	colName,
	col("Type", "string", secretDoc["type"]),
	col("Data", "string", secretDoc["data"]),
	colAge,
}, func(s *corev1.Secret, now time.Time) ([]any, error) {
	return []any{s.Name, string(s.Type), int64(len(s.Data)), age(s.CreationTimestamp, now)}, nil
})

var serviceAccountPrinter = typed([]metav1.TableColumnDefinition{
	colName,
	col("Secrets", "string", corev1.ServiceAccount{}.SwaggerDoc()["secrets"]),
	colAge,
}, func(sa *corev1.ServiceAccount, now time.Time) ([]any, error) {
	return []any{sa.Name, int64(len(sa.Secrets)), age(sa.CreationTimestamp, now)}, nil
})

var eventDoc = corev1.Event{}.SwaggerDoc()

// eventPrinter has no leading Name column: kubectl get events leads with
// LAST SEEN, and the name is a wide column at the end.
var eventPrinter = typed([]metav1.TableColumnDefinition{
	col("Last Seen", "string", eventDoc["lastTimestamp"]),
	col("Type", "string", eventDoc["type"]),
	col("Reason", "string", eventDoc["reason"]),
	col("Object", "string", eventDoc["involvedObject"]),
	wide(col("Subobject", "string", corev1.ObjectReference{}.SwaggerDoc()["fieldPath"])),
	wide(col("Source", "string", eventDoc["source"])),
	col("Message", "string", eventDoc["message"]),
	wide(col("First Seen", "string", eventDoc["firstTimestamp"])),
	wide(col("Count", "string", eventDoc["count"])),
	wide(metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: objectMetaDoc["name"]}),
}, func(e *corev1.Event, now time.Time) ([]any, error) {
	first := age(e.FirstTimestamp, now)
	if e.FirstTimestamp.IsZero() {
		first = microAge(e.EventTime, now)
	}
	last := age(e.LastTimestamp, now)
	if e.LastTimestamp.IsZero() {
		last = first
	}
	count := e.Count
	if e.Series != nil {
		last, count = microAge(e.Series.LastObservedTime, now), e.Series.Count
	} else if count == 0 {
		count = 1 // singleton events of the events.k8s.io API carry no count
	}
	object := strings.ToLower(e.InvolvedObject.Kind)
	if e.InvolvedObject.Name != "" {
		object += "/" + e.InvolvedObject.Name
	}
	return []any{
		last, e.Type, e.Reason, object, e.InvolvedObject.FieldPath, eventSource(e),
		strings.TrimSpace(e.Message), first, int64(count), e.Name,
	}, nil
})

// eventSource is "component, host", falling back to the reporting
// controller and instance, and dropping an empty host.
func eventSource(e *corev1.Event) string {
	component, host := e.Source.Component, e.Source.Host
	if component == "" {
		component = e.ReportingController
	}
	if host == "" {
		host = e.ReportingInstance
	}
	if host == "" {
		return component
	}
	return component + ", " + host
}

var leasePrinter = typed([]metav1.TableColumnDefinition{
	colName,
	col("Holder", "string", coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]),
	colAge,
}, func(l *coordinationv1.Lease, now time.Time) ([]any, error) {
	holder := ""
	if l.Spec.HolderIdentity != nil {
		holder = *l.Spec.HolderIdentity
	}
	return []any{l.Name, holder, age(l.CreationTimestamp, now)}, nil
})

var priorityClassDoc = schedulingv1.PriorityClass{}.SwaggerDoc()

var priorityClassPrinter = typed([]metav1.TableColumnDefinition{
	colName,
	col("Value", "integer", priorityClassDoc["value"]),
	col("Global-Default", "boolean", priorityClassDoc["globalDefault"]),
	colAge,
	col("PreemptionPolicy", "string", priorityClassDoc["preemptionPolicy"]),
}, func(pc *schedulingv1.PriorityClass, now time.Time) ([]any, error) {
	policy := ""
	if pc.PreemptionPolicy != nil {
		policy = string(*pc.PreemptionPolicy)
	}
	return []any{pc.Name, int64(pc.Value), pc.GlobalDefault, age(pc.CreationTimestamp, now), policy}, nil
})

// limitRangePrinter is kube-apiserver's default table for kinds without a
// printer of their own, which LimitRange is: name and creation time.
var limitRangePrinter = typed([]metav1.TableColumnDefinition{
	colName,
	{Name: "Created At", Type: "date", Description: objectMetaDoc["creationTimestamp"]},
}, func(lr *corev1.LimitRange, _ time.Time) ([]any, error) {
	return []any{lr.Name, lr.CreationTimestamp.UTC().Format(time.RFC3339)}, nil
})

var resourceQuotaPrinter = typed([]metav1.TableColumnDefinition{
	colName,
	col("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
	col("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
	colAge,
}, func(q *corev1.ResourceQuota, now time.Time) ([]any, error) {
	names := make([]string, 0, len(q.Status.Hard))
	for n := range q.Status.Hard {
		names = append(names, string(n))
	}
	sort.Strings(names)
	var requests, limits []string
	for _, n := range names {
		used, hard := q.Status.Used[corev1.ResourceName(n)], q.Status.Hard[corev1.ResourceName(n)]
		s := fmt.Sprintf("%s: %s/%s", n, used.String(), hard.String())
		if prefix, _, ok := strings.Cut(n, "."); ok && prefix == "limits" {
			limits = append(limits, s)
		} else {
			requests = append(requests, s)
		}
	}
	return []any{q.Name, strings.Join(requests, ", "), strings.Join(limits, ", "), age(q.CreationTimestamp, now)}, nil
})
