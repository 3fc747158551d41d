package tables

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/wakehq/wake/events/kinds"
)

// Every served kind has its own printer, with a Name column of format
// "name", described columns, and cells for an empty object that line up
// with the columns and are of JSON-friendly types.
func TestEveryKindPrints(t *testing.T) {
	for _, k := range kinds.All() {
		t.Run(k.Kind, func(t *testing.T) {
			if _, ok := byKind[k.GVK().GroupKind()]; !ok {
				t.Fatalf("no printer for %s", k.GVK())
			}
			cols := Columns(k)
			names := 0
			for i, c := range cols {
				if c.Description == "" {
					t.Errorf("column %q has no description", c.Name)
				}
				if c.Type != "string" && c.Type != "integer" && c.Type != "boolean" && c.Type != "date" {
					t.Errorf("column %q has type %q", c.Name, c.Type)
				}
				if c.Format == "name" {
					names++
					if c.Name != "Name" || c.Type != "string" {
						t.Errorf("name column %d is %q of type %q", i, c.Name, c.Type)
					}
					if k.Kind != "Event" && (i != 0 || c.Priority != 0) {
						t.Errorf("Name is column %d priority %d, want first and default", i, c.Priority)
					}
				}
			}
			if names != 1 {
				t.Errorf("%d name columns, want 1", names)
			}
			obj, err := scheme.Scheme.New(k.GVK())
			if err != nil {
				t.Fatal(err)
			}
			cells, err := Row(k, obj, now)
			if err != nil {
				t.Fatal(err)
			}
			if len(cells) != len(cols) {
				t.Fatalf("%d cells for %d columns", len(cells), len(cols))
			}
			for i, c := range cells {
				switch c.(type) {
				case string, int64, bool:
				default:
					t.Errorf("cell %q is a %T", cols[i].Name, c)
				}
			}
		})
	}
}

func TestColumnsAreACopy(t *testing.T) {
	k := kind(t, "Pod")
	Columns(k)[0].Name = "Changed"
	if got := Columns(k)[0].Name; got != "Name" {
		t.Errorf("first column after a caller's change = %q", got)
	}
}

func TestDefaultColumnNames(t *testing.T) {
	tests := map[string]string{
		"Pod":                     "Name Ready Status Restarts Age | IP Node Nominated Node Readiness Gates",
		"Deployment":              "Name Ready Up-to-date Available Age | Containers Images Selector",
		"ReplicaSet":              "Name Desired Current Ready Age | Containers Images Selector",
		"StatefulSet":             "Name Ready Age | Containers Images",
		"DaemonSet":               "Name Desired Current Ready Up-to-date Available Node Selector Age | Containers Images Selector",
		"Job":                     "Name Status Completions Duration Age | Containers Images Selector",
		"CronJob":                 "Name Schedule Timezone Suspend Active Last Schedule Age | Containers Images Selector",
		"Service":                 "Name Type Cluster-IP External-IP Port(s) Age | Selector",
		"Node":                    "Name Status Roles Age Version | Internal-IP External-IP OS-Image Kernel-Version Container-Runtime",
		"Namespace":               "Name Status Age",
		"ConfigMap":               "Name Data Age",
		"Secret":                  "Name Type Data Age",
		"ServiceAccount":          "Name Secrets Age",
		"Endpoints":               "Name Endpoints Age",
		"EndpointSlice":           "Name AddressType Ports Endpoints Age",
		"Event":                   "Last Seen Type Reason Object Message | Subobject Source First Seen Count Name",
		"Lease":                   "Name Holder Age",
		"ControllerRevision":      "Name Controller Revision Age",
		"PriorityClass":           "Name Value Global-Default Age PreemptionPolicy",
		"PersistentVolumeClaim":   "Name Status Volume Capacity Access Modes StorageClass VolumeAttributesClass Age | VolumeMode",
		"PersistentVolume":        "Name Capacity Access Modes Reclaim Policy Status Claim StorageClass VolumeAttributesClass Reason Age | VolumeMode",
		"Ingress":                 "Name Class Hosts Address Ports Age",
		"NetworkPolicy":           "Name Pod-Selector Age",
		"PodDisruptionBudget":     "Name Min Available Max Unavailable Allowed Disruptions Age",
		"LimitRange":              "Name Created At",
		"ResourceQuota":           "Name Request Limit Age",
		"HorizontalPodAutoscaler": "Name Reference Targets MinPods MaxPods Replicas Age",
	}
	for name, want := range tests {
		var def, wide []string
		for _, c := range Columns(kind(t, name)) {
			if c.Priority == 0 {
				def = append(def, c.Name)
			} else {
				wide = append(wide, c.Name)
			}
		}
		got := strings.Join(def, " ")
		if len(wide) > 0 {
			got += " | " + strings.Join(wide, " ")
		}
		if got != want {
			t.Errorf("%s columns:\n got %s\nwant %s", name, got, want)
		}
	}
}

func TestBuildIncludeObject(t *testing.T) {
	k := kind(t, "ConfigMap")
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "team", ResourceVersion: "42", Labels: map[string]string{"app": "web"}, CreationTimestamp: ago(time.Hour)},
		Data:       map[string]string{"a": "1"},
	}
	tests := []struct {
		includeObject string
		want          string // the row's "object" as JSON
	}{
		{"None", `null`},
		{"Metadata", `{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"cfg","namespace":"team","resourceVersion":"42","creationTimestamp":"2025-06-01T11:00:00Z","labels":{"app":"web"}}}`},
		{"", `{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"cfg","namespace":"team","resourceVersion":"42","creationTimestamp":"2025-06-01T11:00:00Z","labels":{"app":"web"}}}`},
		{"Object", `{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cfg","namespace":"team","resourceVersion":"42","creationTimestamp":"2025-06-01T11:00:00Z","labels":{"app":"web"}},"data":{"a":"1"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.includeObject, func(t *testing.T) {
			tbl, err := Build(k, objs(cm), tt.includeObject, now)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(tbl)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					ResourceVersion string `json:"resourceVersion"`
				} `json:"metadata"`
				Rows []struct {
					Cells  []any           `json:"cells"`
					Object json.RawMessage `json:"object"`
				} `json:"rows"`
			}
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.APIVersion != "meta.k8s.io/v1" || doc.Kind != "Table" || doc.Metadata.ResourceVersion != "42" {
				t.Errorf("table is %s %s at %q, want meta.k8s.io/v1 Table at 42", doc.APIVersion, doc.Kind, doc.Metadata.ResourceVersion)
			}
			if len(doc.Rows) != 1 {
				t.Fatalf("%d rows", len(doc.Rows))
			}
			if got := string(doc.Rows[0].Object); got != tt.want {
				t.Errorf("object:\n got %s\nwant %s", got, tt.want)
			}
			if want := []any{"cfg", float64(1), "60m"}; !reflect.DeepEqual(doc.Rows[0].Cells, want) {
				t.Errorf("cells = %v, want %v", doc.Rows[0].Cells, want)
			}
		})
	}
	if cm.Kind != "" {
		t.Errorf("Build set the caller's object's kind to %q", cm.Kind)
	}
}

func TestBuildRejectsUnknownIncludeObject(t *testing.T) {
	_, err := Build(kind(t, "Pod"), nil, "Everything", now)
	if !apierrors.IsBadRequest(err) {
		t.Fatalf("err = %v, want a BadRequest", err)
	}
}

func TestBuildEmptyList(t *testing.T) {
	tbl, err := Build(kind(t, "Pod"), nil, "", now)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(tbl)
	if !strings.Contains(string(b), `"rows":[]`) || len(tbl.ColumnDefinitions) != 9 {
		t.Errorf("empty table = %s", b)
	}
}

func TestRowTakesUnstructured(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "creationTimestamp": "2025-06-01T11:55:00Z"},
		"spec": map[string]any{
			"replicas": int64(3),
			"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
			"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "nginx", "image": "nginx:1.27"}}}},
		},
		"status": map[string]any{"readyReplicas": int64(2), "updatedReplicas": int64(3), "availableReplicas": int64(2)},
	}}
	cells, err := Row(kind(t, "Deployment"), u, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"web", "2/3", int64(3), int64(2), "5m", "nginx", "nginx:1.27", "app=web"}
	if !reflect.DeepEqual(cells, want) {
		t.Errorf("cells = %#v, want %#v", cells, want)
	}
}

func TestRowRejectsTheWrongType(t *testing.T) {
	_, err := Row(kind(t, "Pod"), &corev1.Service{}, now)
	if err == nil || !strings.Contains(err.Error(), "*v1.Pod") {
		t.Errorf("err = %v, want one naming *v1.Pod", err)
	}
	if _, err := Row(kind(t, "Pod"), (*corev1.Pod)(nil), now); err == nil {
		t.Error("a nil *Pod printed")
	}
}

// Kinds outside the catalogue print as name and age.
func TestFallback(t *testing.T) {
	k := kinds.Kind{Group: "example.com", Version: "v1", Kind: "Widget", Resource: "widgets", Namespaced: true}
	if got := Columns(k); len(got) != 2 || got[0].Name != "Name" || got[0].Format != "name" || got[1].Name != "Age" {
		t.Fatalf("columns = %+v", got)
	}
	u := &unstructured.Unstructured{}
	u.SetName("w1")
	u.SetCreationTimestamp(ago(3 * 24 * time.Hour))
	cells, err := Row(k, u, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := []any{"w1", "3d"}; !reflect.DeepEqual(cells, want) {
		t.Errorf("cells = %v, want %v", cells, want)
	}
	if cells, _ := Row(k, &unstructured.Unstructured{Object: map[string]any{}}, now); cells[1] != "<unknown>" {
		t.Errorf("age of an object without a creation time = %v", cells[1])
	}
}
