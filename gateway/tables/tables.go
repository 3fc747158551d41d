package tables

import (
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/wakehq/wake/events/kinds"
)

// printer renders one kind: its columns and, per object, the cells in
// column order and any row conditions.
type printer struct {
	columns    []metav1.TableColumnDefinition
	cells      func(obj runtime.Object, now time.Time) ([]any, error)
	conditions func(obj runtime.Object) []metav1.TableRowCondition // nil for most kinds
}

// byKind holds a printer for every kind in the kinds catalogue; any other
// kind gets fallback.
var byKind = map[schema.GroupKind]printer{
	{Group: "", Kind: "Pod"}:                                podPrinter,
	{Group: "", Kind: "Service"}:                            servicePrinter,
	{Group: "", Kind: "Endpoints"}:                          endpointsPrinter,
	{Group: "", Kind: "Node"}:                               nodePrinter,
	{Group: "", Kind: "Namespace"}:                          namespacePrinter,
	{Group: "", Kind: "ConfigMap"}:                          configMapPrinter,
	{Group: "", Kind: "Secret"}:                             secretPrinter,
	{Group: "", Kind: "ServiceAccount"}:                     serviceAccountPrinter,
	{Group: "", Kind: "Event"}:                              eventPrinter,
	{Group: "", Kind: "PersistentVolumeClaim"}:              pvcPrinter,
	{Group: "", Kind: "PersistentVolume"}:                   pvPrinter,
	{Group: "", Kind: "LimitRange"}:                         limitRangePrinter,
	{Group: "", Kind: "ResourceQuota"}:                      resourceQuotaPrinter,
	{Group: "apps", Kind: "Deployment"}:                     deploymentPrinter,
	{Group: "apps", Kind: "ReplicaSet"}:                     replicaSetPrinter,
	{Group: "apps", Kind: "StatefulSet"}:                    statefulSetPrinter,
	{Group: "apps", Kind: "DaemonSet"}:                      daemonSetPrinter,
	{Group: "apps", Kind: "ControllerRevision"}:             controllerRevisionPrinter,
	{Group: "batch", Kind: "Job"}:                           jobPrinter,
	{Group: "batch", Kind: "CronJob"}:                       cronJobPrinter,
	{Group: "coordination.k8s.io", Kind: "Lease"}:           leasePrinter,
	{Group: "discovery.k8s.io", Kind: "EndpointSlice"}:      endpointSlicePrinter,
	{Group: "networking.k8s.io", Kind: "Ingress"}:           ingressPrinter,
	{Group: "networking.k8s.io", Kind: "NetworkPolicy"}:     networkPolicyPrinter,
	{Group: "policy", Kind: "PodDisruptionBudget"}:          pdbPrinter,
	{Group: "scheduling.k8s.io", Kind: "PriorityClass"}:     priorityClassPrinter,
	{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}: hpaPrinter,
}

func printerFor(k kinds.Kind) printer {
	if p, ok := byKind[k.GVK().GroupKind()]; ok {
		return p
	}
	return fallback
}

// Columns returns the column definitions for a kind (Priority 0 = default
// view, 1 = shown only with -o wide), including "Name" with Format "name":
// first for every kind but Event, where kube-apiserver puts it last and wide.
// The slice is the caller's to modify.
func Columns(k kinds.Kind) []metav1.TableColumnDefinition {
	return append([]metav1.TableColumnDefinition(nil), printerFor(k).columns...)
}

// Row returns the cells for one typed object (from k8s.io/api), in Columns
// order. An *unstructured.Unstructured of the kind is converted first.
func Row(k kinds.Kind, obj runtime.Object, now time.Time) ([]interface{}, error) {
	return printerFor(k).cells(obj, now)
}

// The includeObject values of metav1.TableOptions.
const (
	IncludeNone     = string(metav1.IncludeNone)
	IncludeMetadata = string(metav1.IncludeMetadata)
	IncludeObject   = string(metav1.IncludeObject)
)

// Build makes a whole Table of objs, one row each in the given order. Each
// row carries its object per includeObject as kube-apiserver does: "None"
// leaves it empty, "Metadata" (also "") puts a meta.k8s.io/v1
// PartialObjectMetadata, "Object" a copy of the object with its apiVersion
// and kind set. Any other value is a BadRequest StatusError.
//
// For a single object the Table's resourceVersion is the object's, as the
// apiserver sets it for a GET; callers serving a list set the list's.
func Build(k kinds.Kind, objs []runtime.Object, includeObject string, now time.Time) (*metav1.Table, error) {
	switch includeObject {
	case IncludeNone, IncludeMetadata, IncludeObject, "":
	default:
		return nil, apierrors.NewBadRequest(fmt.Sprintf(
			"includeObject: Invalid value: %q: must be 'Metadata', 'Object', 'None', or empty", includeObject))
	}
	p := printerFor(k)
	t := &metav1.Table{
		TypeMeta:          metav1.TypeMeta{APIVersion: metav1.SchemeGroupVersion.String(), Kind: "Table"},
		ColumnDefinitions: Columns(k),
		Rows:              make([]metav1.TableRow, 0, len(objs)),
	}
	for _, obj := range objs {
		cells, err := p.cells(obj, now)
		if err != nil {
			return nil, err
		}
		row := metav1.TableRow{Cells: cells}
		if p.conditions != nil {
			row.Conditions = p.conditions(obj)
		}
		if row.Object, err = embed(k, obj, includeObject); err != nil {
			return nil, err
		}
		t.Rows = append(t.Rows, row)
	}
	if len(objs) == 1 {
		if m, err := meta.Accessor(objs[0]); err == nil {
			t.ResourceVersion = m.GetResourceVersion()
		}
	}
	return t, nil
}

// embed is the object a row carries for includeObject.
func embed(k kinds.Kind, obj runtime.Object, includeObject string) (runtime.RawExtension, error) {
	switch includeObject {
	case IncludeNone:
		return runtime.RawExtension{}, nil
	case IncludeObject:
		// A copy: the apiserver converts to the request's version, which
		// also sets apiVersion and kind; the caller's object stays as it was.
		c := obj.DeepCopyObject()
		c.GetObjectKind().SetGroupVersionKind(k.GVK())
		return runtime.RawExtension{Object: c}, nil
	default:
		m, err := meta.Accessor(obj)
		if err != nil {
			return runtime.RawExtension{}, fmt.Errorf("tables: %s row object has no metadata: %w", k.Kind, err)
		}
		partial := meta.AsPartialObjectMetadata(m)
		partial.SetGroupVersionKind(metav1.SchemeGroupVersion.WithKind("PartialObjectMetadata"))
		return runtime.RawExtension{Object: partial}, nil
	}
}

// fallback prints kinds without a printer of their own: name and age.
// (kube-apiserver's default for such kinds is Name and "Created At"; wake
// prefers AGE, which reads like every other kubectl listing.)
var fallback = printer{
	columns: []metav1.TableColumnDefinition{colName, colAge},
	cells: func(obj runtime.Object, now time.Time) ([]any, error) {
		m, err := meta.Accessor(obj)
		if err != nil {
			return nil, fmt.Errorf("tables: cannot print %T: %w", obj, err)
		}
		return []any{m.GetName(), age(m.GetCreationTimestamp(), now)}, nil
	},
}
