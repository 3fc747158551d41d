package tables

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
)

// typed adapts a printer written for one k8s.io/api type. It accepts that
// type, or an unstructured object of the kind, which it converts first.
func typed[T any, PT interface {
	*T
	runtime.Object
}](columns []metav1.TableColumnDefinition, cells func(PT, time.Time) ([]any, error)) printer {
	return printer{
		columns: columns,
		cells: func(obj runtime.Object, now time.Time) ([]any, error) {
			o, err := as[T, PT](obj)
			if err != nil {
				return nil, err
			}
			return cells(o, now)
		},
	}
}

// as returns obj as a PT, converting unstructured content.
func as[T any, PT interface {
	*T
	runtime.Object
}](obj runtime.Object) (PT, error) {
	if u, ok := obj.(runtime.Unstructured); ok {
		o := PT(new(T))
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.UnstructuredContent(), o); err != nil {
			return nil, fmt.Errorf("tables: converting %T: %w", o, err)
		}
		return o, nil
	}
	o, ok := obj.(PT)
	if !ok || o == nil {
		return nil, fmt.Errorf("tables: want %T, got %T", PT(nil), obj)
	}
	return o, nil
}

// Column descriptions come from the API's own documentation, as upstream's do.
var (
	objectMetaDoc = metav1.ObjectMeta{}.SwaggerDoc()

	colName = metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: objectMetaDoc["name"]}
	colAge  = metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: objectMetaDoc["creationTimestamp"]}

	colContainers = wide(col("Containers", "string", "Names of each container in the template."))
	colImages     = wide(col("Images", "string", "Images referenced by each container in the template."))
)

func col(name, typ, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: description}
}

// wide marks a column as shown only with -o wide.
func wide(c metav1.TableColumnDefinition) metav1.TableColumnDefinition {
	c.Priority = 1
	return c
}

// age is how long ago t was, as kubectl shows it.
func age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

func microAge(t metav1.MicroTime, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// containerCells lays out container names and images on one line each.
func containerCells(containers []corev1.Container) (names, images string) {
	n := make([]string, len(containers))
	i := make([]string, len(containers))
	for j, c := range containers {
		n[j], i[j] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(i, ",")
}

// firstOf joins up to limit items, then says how many more there are; an
// empty list is "<unset>".
func firstOf(items []string, limit int) string {
	if len(items) == 0 {
		return "<unset>"
	}
	if len(items) <= limit {
		return strings.Join(items, ",")
	}
	return fmt.Sprintf("%s + %d more...", strings.Join(items[:limit], ","), len(items)-limit)
}

func boolPtr(b *bool) string {
	switch {
	case b == nil:
		return "<unset>"
	case *b:
		return "True"
	}
	return "False"
}

func int32Or0(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
