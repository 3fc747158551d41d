package gateway

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/wakehq/wake/events/kinds"
	"github.com/wakehq/wake/projections"
)

// selectableFields lists, per kind, the field selectors Kubernetes supports
// beyond metadata.name and metadata.namespace.
var selectableFields = map[string][]string{
	"Pod": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
		"spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"},
	"Node":       {"spec.unschedulable"},
	"Secret":     {"type"},
	"Namespace":  {"status.phase"},
	"Job":        {"status.successful"},
	"ReplicaSet": {"status.replicas"},
	"Event": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
		"involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
		"reason", "reportingComponent", "source", "type"},
}

// filter is a parsed label and field selector.
type filter struct {
	labels labels.Selector
	fields fields.Selector
	// body is set when a field selector needs more than the name and
	// namespace, which means decoding the object.
	body bool
}

func parseFilter(q url.Values, k kinds.Kind) (filter, error) {
	f := filter{labels: labels.Everything(), fields: fields.Everything()}
	var err error
	if s := q.Get("labelSelector"); s != "" {
		if f.labels, err = labels.Parse(s); err != nil {
			return f, apierrors.NewBadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
		}
	}
	if s := q.Get("fieldSelector"); s != "" {
		if f.fields, err = fields.ParseSelector(s); err != nil {
			return f, apierrors.NewBadRequest(fmt.Sprintf("invalid field selector: %v", err))
		}
		allowed := map[string]bool{"metadata.name": true, "metadata.namespace": true}
		for _, name := range selectableFields[k.Kind] {
			allowed[name] = true
		}
		for _, req := range f.fields.Requirements() {
			if !allowed[req.Field] {
				return f, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", req.Field))
			}
			if req.Field != "metadata.name" && req.Field != "metadata.namespace" {
				f.body = true
			}
		}
	}
	return f, nil
}

func (f filter) everything() bool { return f.labels.Empty() && f.fields.Empty() }

func (f filter) matches(o *projections.Object) bool {
	if o == nil {
		return false
	}
	if !f.labels.Empty() && !f.labels.Matches(labels.Set(o.Labels)) {
		return false
	}
	if f.fields.Empty() {
		return true
	}
	set := fields.Set{"metadata.name": o.Ref.Name, "metadata.namespace": o.Ref.Namespace}
	if f.body {
		var doc map[string]any
		if json.Unmarshal(o.Raw, &doc) != nil {
			return false
		}
		for _, req := range f.fields.Requirements() {
			if _, done := set[req.Field]; !done {
				set[req.Field] = fieldValue(doc, req.Field)
			}
		}
	}
	return f.fields.Matches(set)
}

// fieldValue reads a dotted path from a decoded object as a selector string.
func fieldValue(doc map[string]any, path string) string {
	var cur any = doc
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[part]
	}
	switch v := cur.(type) {
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case nil:
		if strings.HasSuffix(path, "unschedulable") || strings.HasSuffix(path, "hostNetwork") {
			return "false"
		}
	}
	return ""
}
