package gateway

import (
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/kinds"
	"github.com/wakehq/wake/internal/admission"
)

// target is what a resource URL names: a collection, an object, or one of an
// object's subresources.
type target struct {
	kind        kinds.Kind
	namespace   string // "" for cluster-scoped kinds, and for lists across all namespaces
	name        string // "" for collections
	subresource string // "", "status", "scale", "finalize", "log", "exec", "portforward"
}

func (t target) ref() events.Ref {
	return events.Ref{Group: t.kind.Group, Resource: t.kind.Resource, Namespace: t.namespace, Name: t.name}
}

func (t target) gr() schema.GroupResource {
	return schema.GroupResource{Group: t.kind.Group, Resource: t.kind.Resource}
}

var subresources = map[string]bool{"status": true, "scale": true, "finalize": true, "log": true, "exec": true, "portforward": true}

// parseTarget reads the path after /api/v1/ or /apis/{group}/{version}/.
//
//	{resource}[/{name}[/{sub}]]
//	namespaces/{ns}/{resource}[/{name}[/{sub}]]
func parseTarget(group, version, rest string) (target, error) {
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	var t target
	if len(parts) >= 3 && parts[0] == "namespaces" && !subresources[parts[2]] {
		t.namespace = parts[1]
		parts = parts[2:]
	}
	if len(parts) == 0 || len(parts) > 3 || parts[0] == "" {
		return t, apierrors.NewNotFound(schema.GroupResource{}, rest)
	}
	k, ok := kinds.ByResource(group, parts[0])
	if !ok || k.Version != version {
		return t, apierrors.NewNotFound(schema.GroupResource{Group: group, Resource: parts[0]}, "")
	}
	t.kind = k
	if t.namespace != "" && !k.Namespaced {
		return t, apierrors.NewNotFound(t.gr(), "")
	}
	if t.namespace != "" {
		if msgs := admission.ValidateName(namespaceKind, t.namespace); len(msgs) > 0 {
			return t, apierrors.NewBadRequest(fmt.Sprintf("invalid namespace %q: %s", t.namespace, strings.Join(msgs, "; ")))
		}
	}
	if len(parts) >= 2 {
		t.name = parts[1]
		if msgs := admission.ValidateName(k, t.name); len(msgs) > 0 {
			return t, apierrors.NewBadRequest(fmt.Sprintf("invalid %s name %q: %s", k.Singular, t.name, strings.Join(msgs, "; ")))
		}
		if k.Namespaced && t.namespace == "" {
			return t, apierrors.NewNotFound(t.gr(), t.name)
		}
	}
	if len(parts) == 3 {
		t.subresource = parts[2]
		if !t.allowsSubresource() {
			return t, apierrors.NewNotFound(t.gr(), t.name+"/"+t.subresource)
		}
	}
	return t, nil
}

func (t target) allowsSubresource() bool {
	switch t.subresource {
	case "status":
		return t.kind.Status
	case "scale":
		return t.kind.Scale
	case "finalize":
		return t.kind.Kind == "Namespace"
	case "log", "exec", "portforward":
		return t.kind.Group == "" && t.kind.Resource == "pods"
	}
	return false
}

var namespaceKind, _ = kinds.ByResource("", "namespaces")

// verb is the Kubernetes verb of a request, as RBAC and audit name it.
func verb(r *http.Request, t target) string {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if t.name == "" {
			if queryBool(r.URL.Query(), "watch") {
				return "watch"
			}
			return "list"
		}
		return "get"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		if t.name == "" {
			return "deletecollection"
		}
		return "delete"
	}
	return ""
}
