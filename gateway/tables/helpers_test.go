package tables

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/wakehq/wake/events/kinds"
)

// now is the fixed "current time" of every test.
var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

func agoPtr(d time.Duration) *metav1.Time { t := ago(d); return &t }

func objMeta(name string, created time.Duration) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: ago(created)}
}

func objs(os ...runtime.Object) []runtime.Object { return os }

func ptr[T any](v T) *T { return &v }

func kind(t *testing.T, name string) kinds.Kind {
	t.Helper()
	for _, k := range kinds.All() {
		if k.Kind == name {
			return k
		}
	}
	t.Fatalf("kind %s is not in the catalogue", name)
	return kinds.Kind{}
}

// kubectlGet prints a Table the way kubectl get does after receiving it:
// the JSON is decoded as unstructured, turned into a metav1.Table with each
// row's object decoded (kubectl's cmd/get decodeIntoTable), and printed with
// cli-runtime's table printer.
func kubectlGet(t *testing.T, tbl *metav1.Table, opts printers.PrintOptions) string {
	t.Helper()
	b, err := json.Marshal(tbl)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	obj, err := runtime.Decode(unstructured.UnstructuredJSONScheme, b)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if gvk := obj.GetObjectKind().GroupVersionKind(); gvk != metav1.SchemeGroupVersion.WithKind("Table") {
		t.Fatalf("kubectl does not recognise %v as a Table", gvk)
	}
	decoded := &metav1.Table{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.(*unstructured.Unstructured).Object, decoded); err != nil {
		t.Fatalf("into Table: %v", err)
	}
	for i := range decoded.Rows {
		row := &decoded.Rows[i]
		if row.Object.Raw == nil || row.Object.Object != nil {
			continue
		}
		if row.Object.Object, err = runtime.Decode(unstructured.UnstructuredJSONScheme, row.Object.Raw); err != nil {
			t.Fatalf("row %d object: %v", i, err)
		}
	}
	var out bytes.Buffer
	if err := printers.NewTablePrinter(opts).PrintObj(decoded, &out); err != nil {
		t.Fatalf("print: %v", err)
	}
	return out.String()
}
