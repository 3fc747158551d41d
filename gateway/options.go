package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/internalversion"
	listvalidation "k8s.io/apimachinery/pkg/apis/meta/internalversion/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/scheme"
)

// The options of a request, read once, here, as kube-apiserver reads them:
// the query through the parameter codec and the generated url.Values
// conversions its handlers use (so "watch=True", "dryRun=All" and
// "limit=500" mean here what they mean there), and for deletions the
// DeleteOptions body when there is one, else the query; then checked by
// kube-apiserver's own validation of each option type. A value that does
// not decode is 400; one that decodes but is not allowed is 422 (Invalid,
// kind CreateOptions, DeleteOptions, ...), as kube-apiserver answers.

// options are what one request asked for besides its body.
type options struct {
	dryRun bool
	// fieldValidation is Strict, Warn (the default) or Ignore: what an
	// unknown or duplicate field in a create, update or patch body does.
	fieldValidation string
	list            metav1.ListOptions   // list, watch, deletecollection
	delete          metav1.DeleteOptions // delete, deletecollection
}

type optionsKey struct{}

// optionsOf returns the options serveResource read for ctx's request; a
// request that came another way (bootstrap, wake's own API) has none.
func optionsOf(ctx context.Context) options {
	o, _ := ctx.Value(optionsKey{}).(options)
	return o
}

func withOptions(r *http.Request, o options) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), optionsKey{}, o))
}

// readOptions reads the options of a request with verb v.
func readOptions(w http.ResponseWriter, r *http.Request, v string) (options, error) {
	var o options
	q := r.URL.Query()
	var dryRun []string
	switch v {
	case "list", "watch":
		if err := decodeQuery(q, &o.list); err != nil {
			return o, err
		}
		if errs := validateListOptions(o.list, v == "watch"); len(errs) > 0 {
			return o, invalidOptions("ListOptions", errs)
		}
	case "create":
		var c metav1.CreateOptions
		if err := decodeQuery(q, &c); err != nil {
			return o, err
		}
		if errs := validation.ValidateCreateOptions(&c); len(errs) > 0 {
			return o, invalidOptions("CreateOptions", errs)
		}
		dryRun, o.fieldValidation = c.DryRun, c.FieldValidation
	case "update":
		var u metav1.UpdateOptions
		if err := decodeQuery(q, &u); err != nil {
			return o, err
		}
		if errs := validation.ValidateUpdateOptions(&u); len(errs) > 0 {
			return o, invalidOptions("UpdateOptions", errs)
		}
		dryRun, o.fieldValidation = u.DryRun, u.FieldValidation
	case "patch":
		var p metav1.PatchOptions
		if err := decodeQuery(q, &p); err != nil {
			return o, err
		}
		if errs := validation.ValidatePatchOptions(&p, types.PatchType(contentType(r))); len(errs) > 0 {
			return o, invalidOptions("PatchOptions", errs)
		}
		dryRun, o.fieldValidation = p.DryRun, p.FieldValidation
	case "delete", "deletecollection":
		if v == "deletecollection" {
			if err := decodeQuery(q, &o.list); err != nil {
				return o, err
			}
		}
		d, err := deleteOptions(w, r)
		if err != nil {
			return o, err
		}
		o.delete, dryRun = d, d.DryRun
	}
	o.dryRun = len(dryRun) > 0
	if o.fieldValidation == "" {
		o.fieldValidation = metav1.FieldValidationWarn
	}
	return o, nil
}

// contentType is the media type of the request body, without parameters.
func contentType(r *http.Request) string {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt
}

// optionsVersion is the version the option types are registered under in
// client-go's scheme, with their conversions from url.Values (metav1's own
// ParameterCodec has none: it only encodes).
var optionsVersion = schema.GroupVersion{Version: "v1"}

// validateListOptions is kube-apiserver's validation of list and watch
// options (resourceVersionMatch, continue and sendInitialEvents together;
// the WatchList feature on, as in Kubernetes 1.37).
func validateListOptions(lo metav1.ListOptions, watch bool) field.ErrorList {
	return listvalidation.ValidateListOptions(&internalversion.ListOptions{
		Watch:                watch,
		ResourceVersion:      lo.ResourceVersion,
		ResourceVersionMatch: lo.ResourceVersionMatch,
		Continue:             lo.Continue,
		SendInitialEvents:    lo.SendInitialEvents,
	}, true)
}

// decodeQuery decodes query parameters into one of meta/v1's option types.
func decodeQuery(q url.Values, into runtime.Object) error {
	if err := scheme.ParameterCodec.DecodeParameters(q, optionsVersion, into); err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	return nil
}

func invalidOptions(kind string, errs field.ErrorList) error {
	return apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: kind}, "", errs)
}

// deleteOptions reads DeleteOptions from the body when there is one, else
// from the query (never both, as kube-apiserver), and validates them.
func deleteOptions(w http.ResponseWriter, r *http.Request) (metav1.DeleteOptions, error) {
	var opts metav1.DeleteOptions
	body, err := readBody(w, r)
	if err != nil {
		return opts, err
	}
	if len(body) > 0 {
		data, err := bodyJSON(r, body, bodyTypes...)
		if err != nil {
			return opts, err
		}
		if err := decodeDeleteOptions(data, &opts); err != nil {
			return opts, err
		}
	} else if err := decodeQuery(r.URL.Query(), &opts); err != nil {
		return opts, err
	}
	if errs := validation.ValidateDeleteOptions(&opts); len(errs) > 0 {
		return opts, invalidOptions("DeleteOptions", errs)
	}
	if opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds < 0 {
		zero := int64(0)
		opts.GracePeriodSeconds = &zero
	}
	return opts, nil
}

// decodeDeleteOptions decodes a DeleteOptions body (JSON: YAML and protobuf
// bodies arrive converted). Its kind, when named, must be DeleteOptions.
func decodeDeleteOptions(data []byte, opts *metav1.DeleteOptions) error {
	if err := json.Unmarshal(data, opts); err != nil {
		return apierrors.NewBadRequest(fmt.Sprintf("invalid DeleteOptions: %v", err))
	}
	if opts.Kind != "" && opts.Kind != "DeleteOptions" {
		return apierrors.NewBadRequest(fmt.Sprintf("the body must be DeleteOptions, not %s", opts.Kind))
	}
	return nil
}

// queryBool reads a boolean query parameter as kube-apiserver's parameter
// codec does: absent, "0" and "false" (in any case) are false, anything
// else, the empty value included, is true. The Python client sends
// "watch=True".
func queryBool(q url.Values, name string) bool {
	v, ok := q[name]
	if !ok {
		return false
	}
	var b bool
	runtime.Convert_Slice_string_To_bool(&v, &b, nil)
	return b
}
