// Package namespace is the namespace controller: when a namespace is being
// deleted, it deletes everything inside, then lets the namespace go.
//
// Reconcile is pure; Loop wires it to the log. It must not touch objects of
// namespaces that are not terminating.
package namespace

import (
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/kinds"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// Name is the controller's actor name.
const Name = "system:controller:namespace"

// Loop returns the controller's loop over log and view.
func Loop(log *events.Log, view *projections.Projection) *reconcile.Loop {
	return &reconcile.Loop{
		Name: Name, Log: log, View: view, Reconcile: Reconcile,
		Keys: func(ch projections.Change) []events.Ref {
			ref := ch.Object.Ref
			if ref.Group == "" && ref.Resource == "namespaces" {
				return []events.Ref{ref}
			}
			if ref.Namespace != "" {
				return []events.Ref{{Resource: "namespaces", Name: ref.Namespace}}
			}
			return nil
		},
		ResyncKeys:   reconcile.AllOf("", "namespaces"),
		RequeueAfter: reconcile.Every(time.Minute, nil),
	}
}

// Reconcile deletes the content of a terminating namespace, then the
// namespace itself once it is empty and no other finalizer holds it.
func Reconcile(view reconcile.View, key events.Ref, now time.Time) ([]reconcile.Append, error) {
	o, ok := view.Get(key)
	if !ok {
		return nil, nil
	}
	var ns corev1.Namespace
	if err := json.Unmarshal(o.Raw, &ns); err != nil {
		return nil, fmt.Errorf("namespace %s: %w", key.Name, err)
	}
	if ns.DeletionTimestamp == nil {
		return nil, nil
	}
	var out []reconcile.Append
	remaining := 0
	for _, k := range kinds.All() {
		if !k.Namespaced {
			continue
		}
		objs, _ := view.List(k.Group, k.Resource, key.Name)
		for _, obj := range objs {
			remaining++
			a, err := deleteObject(k, obj, now)
			if err != nil {
				return nil, err
			}
			if a != nil {
				out = append(out, *a)
			}
		}
	}
	if remaining > 0 {
		return out, nil
	}
	ns.Spec.Finalizers = without(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
	typ := events.ObjectUpdated
	if len(ns.Finalizers) == 0 {
		typ = events.ObjectDeleted
	}
	a, err := appendFor(kindOf("", "namespaces"), o, typ, &ns)
	if err != nil {
		return nil, err
	}
	return []reconcile.Append{a}, nil
}

// deleteObject marks one object deleted: gone at once when nothing holds it,
// else with a deletion timestamp for its finalizers (or its node) to finish.
// Objects already terminating are left to finish.
func deleteObject(k kinds.Kind, o *projections.Object, now time.Time) (*reconcile.Append, error) {
	var doc map[string]any
	if err := json.Unmarshal(o.Raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", o.Ref, err)
	}
	var m struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
		Spec     struct {
			NodeName string `json:"nodeName"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(o.Raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", o.Ref, err)
	}
	if m.Metadata.DeletionTimestamp != nil {
		return nil, nil
	}
	meta, _ := doc["metadata"].(map[string]any)
	meta["deletionTimestamp"] = now.UTC().Truncate(time.Second).Format(time.RFC3339)
	meta["deletionGracePeriodSeconds"] = 0
	typ := events.ObjectDeleted
	if len(m.Metadata.Finalizers) > 0 || (k.Kind == "Pod" && m.Spec.NodeName != "") {
		typ = events.ObjectUpdated
	}
	a, err := appendFor(k, o, typ, doc)
	return &a, err
}

func appendFor(k kinds.Kind, o *projections.Object, typ events.Type, obj any) (reconcile.Append, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return reconcile.Append{}, err
	}
	ev := events.Event{Type: typ, Ref: o.Ref, APIVersion: k.APIVersion(), Kind: k.Kind, Data: data}
	if typ == events.ObjectUpdated {
		ev.Change = events.ChangeDeletion
	}
	return reconcile.Append{Event: ev, Expect: o.Seq}, nil
}

func kindOf(group, resource string) kinds.Kind {
	k, _ := kinds.ByResource(group, resource)
	return k
}

func without(list []corev1.FinalizerName, f corev1.FinalizerName) []corev1.FinalizerName {
	var out []corev1.FinalizerName
	for _, x := range list {
		if x != f {
			out = append(out, x)
		}
	}
	return out
}
