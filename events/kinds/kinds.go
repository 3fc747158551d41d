// Package kinds is the catalogue of object kinds wake serves: for each, its
// group, version, kind, REST resource name, scope and subresources.
//
// It is vocabulary only. It must not decode, default or validate objects
// (internal/admission does that) nor know about NATS (events does that).
package kinds

import (
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Kind describes one served object kind.
type Kind struct {
	Group      string // "" for the core group
	Version    string
	Kind       string
	Resource   string // plural, lower case: "deployments"
	Singular   string
	Namespaced bool
	ShortNames []string
	Categories []string
	Status     bool // has a status subresource
	Scale      bool // has a scale subresource
}

// GVK is the kind's group, version and kind.
func (k Kind) GVK() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Kind}
}

// GVR is the kind's group, version and resource.
func (k Kind) GVR() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: k.Group, Version: k.Version, Resource: k.Resource}
}

// APIVersion is the apiVersion field value: "v1" or "apps/v1".
func (k Kind) APIVersion() string { return k.GVK().GroupVersion().String() }

// ListKind is the kind of a list of these objects.
func (k Kind) ListKind() string { return k.Kind + "List" }

var all = []Kind{
	// core/v1
	{Group: "", Version: "v1", Kind: "Namespace", Resource: "namespaces", Singular: "namespace", ShortNames: []string{"ns"}, Status: true},
	{Group: "", Version: "v1", Kind: "Node", Resource: "nodes", Singular: "node", ShortNames: []string{"no"}, Status: true},
	{Group: "", Version: "v1", Kind: "Pod", Resource: "pods", Singular: "pod", Namespaced: true, ShortNames: []string{"po"}, Categories: []string{"all"}, Status: true},
	{Group: "", Version: "v1", Kind: "Service", Resource: "services", Singular: "service", Namespaced: true, ShortNames: []string{"svc"}, Categories: []string{"all"}, Status: true},
	{Group: "", Version: "v1", Kind: "Endpoints", Resource: "endpoints", Singular: "endpoints", Namespaced: true, ShortNames: []string{"ep"}},
	{Group: "", Version: "v1", Kind: "ConfigMap", Resource: "configmaps", Singular: "configmap", Namespaced: true, ShortNames: []string{"cm"}},
	{Group: "", Version: "v1", Kind: "Secret", Resource: "secrets", Singular: "secret", Namespaced: true},
	{Group: "", Version: "v1", Kind: "ServiceAccount", Resource: "serviceaccounts", Singular: "serviceaccount", Namespaced: true, ShortNames: []string{"sa"}},
	{Group: "", Version: "v1", Kind: "Event", Resource: "events", Singular: "event", Namespaced: true, ShortNames: []string{"ev"}},
	{Group: "", Version: "v1", Kind: "PersistentVolumeClaim", Resource: "persistentvolumeclaims", Singular: "persistentvolumeclaim", Namespaced: true, ShortNames: []string{"pvc"}, Status: true},
	{Group: "", Version: "v1", Kind: "PersistentVolume", Resource: "persistentvolumes", Singular: "persistentvolume", ShortNames: []string{"pv"}, Status: true},
	{Group: "", Version: "v1", Kind: "LimitRange", Resource: "limitranges", Singular: "limitrange", Namespaced: true, ShortNames: []string{"limits"}},
	{Group: "", Version: "v1", Kind: "ResourceQuota", Resource: "resourcequotas", Singular: "resourcequota", Namespaced: true, ShortNames: []string{"quota"}, Status: true},
	// apps/v1
	{Group: "apps", Version: "v1", Kind: "Deployment", Resource: "deployments", Singular: "deployment", Namespaced: true, ShortNames: []string{"deploy"}, Categories: []string{"all"}, Status: true, Scale: true},
	{Group: "apps", Version: "v1", Kind: "ReplicaSet", Resource: "replicasets", Singular: "replicaset", Namespaced: true, ShortNames: []string{"rs"}, Categories: []string{"all"}, Status: true, Scale: true},
	{Group: "apps", Version: "v1", Kind: "StatefulSet", Resource: "statefulsets", Singular: "statefulset", Namespaced: true, ShortNames: []string{"sts"}, Categories: []string{"all"}, Status: true, Scale: true},
	{Group: "apps", Version: "v1", Kind: "DaemonSet", Resource: "daemonsets", Singular: "daemonset", Namespaced: true, ShortNames: []string{"ds"}, Categories: []string{"all"}, Status: true},
	{Group: "apps", Version: "v1", Kind: "ControllerRevision", Resource: "controllerrevisions", Singular: "controllerrevision", Namespaced: true},
	// batch/v1
	{Group: "batch", Version: "v1", Kind: "Job", Resource: "jobs", Singular: "job", Namespaced: true, Categories: []string{"all"}, Status: true},
	{Group: "batch", Version: "v1", Kind: "CronJob", Resource: "cronjobs", Singular: "cronjob", Namespaced: true, ShortNames: []string{"cj"}, Categories: []string{"all"}, Status: true},
	// autoscaling/v2
	{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler", Resource: "horizontalpodautoscalers", Singular: "horizontalpodautoscaler", Namespaced: true, ShortNames: []string{"hpa"}, Categories: []string{"all"}, Status: true},
	// others
	{Group: "coordination.k8s.io", Version: "v1", Kind: "Lease", Resource: "leases", Singular: "lease", Namespaced: true},
	{Group: "discovery.k8s.io", Version: "v1", Kind: "EndpointSlice", Resource: "endpointslices", Singular: "endpointslice", Namespaced: true},
	{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress", Resource: "ingresses", Singular: "ingress", Namespaced: true, ShortNames: []string{"ing"}, Status: true},
	{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy", Resource: "networkpolicies", Singular: "networkpolicy", Namespaced: true, ShortNames: []string{"netpol"}},
	{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget", Resource: "poddisruptionbudgets", Singular: "poddisruptionbudget", Namespaced: true, ShortNames: []string{"pdb"}, Status: true},
	{Group: "scheduling.k8s.io", Version: "v1", Kind: "PriorityClass", Resource: "priorityclasses", Singular: "priorityclass", ShortNames: []string{"pc"}},
}

var (
	byResource = map[schema.GroupResource]Kind{}
	byKind     = map[schema.GroupVersionKind]Kind{}
)

func init() {
	for _, k := range all {
		byResource[schema.GroupResource{Group: k.Group, Resource: k.Resource}] = k
		byKind[k.GVK()] = k
	}
}

// All returns every served kind, core group first, then groups by name.
func All() []Kind {
	out := append([]Kind(nil), all...)
	sort.SliceStable(out, func(i, j int) bool { return groupRank(out[i].Group) < groupRank(out[j].Group) })
	return out
}

func groupRank(g string) string {
	if g == "" {
		return ""
	}
	return "~" + g
}

// ByResource finds a kind by group and plural resource name.
func ByResource(group, resource string) (Kind, bool) {
	k, ok := byResource[schema.GroupResource{Group: group, Resource: strings.ToLower(resource)}]
	return k, ok
}

// ByGVK finds a kind by group, version and kind.
func ByGVK(gvk schema.GroupVersionKind) (Kind, bool) {
	k, ok := byKind[gvk]
	return k, ok
}

// GroupVersion is one served API group version with its kinds.
type GroupVersion struct {
	Group, Version string
	Kinds          []Kind
}

// GroupVersions lists served group versions, core first.
func GroupVersions() []GroupVersion {
	var out []GroupVersion
	index := map[schema.GroupVersion]int{}
	for _, k := range All() {
		gv := schema.GroupVersion{Group: k.Group, Version: k.Version}
		i, ok := index[gv]
		if !ok {
			i = len(out)
			index[gv] = i
			out = append(out, GroupVersion{Group: k.Group, Version: k.Version})
		}
		out[i].Kinds = append(out[i].Kinds, k)
	}
	return out
}
