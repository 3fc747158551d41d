package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/wakehq/wake/events/kinds"
)

// MaxBodyBytes is the largest request body accepted, as in kube-apiserver.
const MaxBodyBytes = 3 << 20

// maxDepth is the deepest JSON nesting accepted. Real objects stay far below.
const maxDepth = 64

// readBody reads a request body within MaxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d bytes", MaxBodyBytes))
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, statusError(http.StatusRequestTimeout, metav1.StatusReasonTimeout, "the request body did not arrive in time")
	}
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("reading the request body: %v", err))
	}
	return body, nil
}

// bodyJSON returns the body as JSON, converting YAML, after checking its media
// type, its syntax and its depth.
func bodyJSON(r *http.Request, body []byte, allowed ...string) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" {
		mt, err = "application/json", nil
	}
	if err != nil {
		return nil, unsupportedMediaType(ct)
	}
	ok := false
	for _, a := range allowed {
		ok = ok || a == mt
	}
	if !ok {
		return nil, unsupportedMediaType(mt)
	}
	switch mt {
	case "application/yaml":
		if body, err = yaml.YAMLToJSON(body); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the body is not valid YAML: %v", err))
		}
	case protobufType:
		if body, err = protobufToJSON(body); err != nil {
			return nil, err
		}
	}
	if err := checkJSON(body); err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return body, nil
}

// protobufType is the media type of Kubernetes' protobuf encoding, which
// client-go's typed clients send by default.
const protobufType = "application/vnd.kubernetes.protobuf"

// bodyTypes are the media types a request body may have.
var bodyTypes = []string{"application/json", "application/yaml", protobufType}

// protobufToJSON decodes a protobuf body (with its self-describing
// envelope) through the scheme and re-encodes it as JSON, so that one
// decoding path validates every body.
func protobufToJSON(body []byte) ([]byte, error) {
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, nil)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the body is not a valid protobuf object: %v", err))
	}
	return json.Marshal(obj)
}

// checkJSON rejects invalid JSON and nesting deeper than maxDepth before any
// decoder spends time on it.
func checkJSON(b []byte) error {
	if !json.Valid(b) {
		var v any
		err := json.Unmarshal(b, &v)
		return fmt.Errorf("the body is not valid JSON: %v", err)
	}
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			if depth++; depth > maxDepth {
				return fmt.Errorf("the body nests deeper than %d levels", maxDepth)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// decodeObject decodes JSON into a new typed object of kind k. The apiVersion
// and kind in the data, when present, must name k. Unknown and duplicate
// fields fail the request (Strict) or come back as warnings (Warn).
func decodeObject(data []byte, k kinds.Kind, validation string) (runtime.Object, []string, error) {
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(data, &tm); err != nil {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the body is not a JSON object: %v", err))
	}
	if tm.APIVersion != "" && tm.APIVersion != k.APIVersion() {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", tm.APIVersion, k.APIVersion()))
	}
	if tm.Kind != "" && tm.Kind != k.Kind {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the kind in the data (%s) does not match the expected kind (%s)", tm.Kind, k.Kind))
	}
	obj, err := scheme.Scheme.New(k.GVK())
	if err != nil {
		return nil, nil, apierrors.NewInternalError(err)
	}
	var strict []error
	if validation == "Ignore" {
		err = kjson.UnmarshalCaseSensitivePreserveInts(data, obj)
	} else {
		strict, err = kjson.UnmarshalStrict(data, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	}
	if err != nil {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("decoding %s: %v", k.Kind, err))
	}
	var warnings []string
	for _, e := range strict {
		warnings = append(warnings, e.Error())
	}
	if validation == "Strict" && len(warnings) > 0 {
		return nil, nil, apierrors.NewBadRequest("strict decoding error: " + strings.Join(warnings, ", "))
	}
	obj.GetObjectKind().SetGroupVersionKind(k.GVK())
	return obj, warnings, nil
}

// decodeRaw decodes a stored object (from the projection) into its type.
func decodeRaw(raw []byte, k kinds.Kind) (runtime.Object, error) {
	obj, err := scheme.Scheme.New(k.GVK())
	if err != nil {
		return nil, err
	}
	if err := kjson.UnmarshalCaseSensitivePreserveInts(raw, obj); err != nil {
		return nil, fmt.Errorf("stored %s does not decode: %w", k.Kind, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(k.GVK())
	return obj, nil
}

// encodeObject is the stored form of an object: its JSON with type meta set.
func encodeObject(obj runtime.Object, k kinds.Kind) ([]byte, error) {
	obj.GetObjectKind().SetGroupVersionKind(k.GVK())
	return json.Marshal(obj)
}

// writeJSON writes v as the JSON response.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeRaw(w, code, b)
}

func writeRaw(w http.ResponseWriter, code int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}

// writeWarnings adds Kubernetes warning headers.
func writeWarnings(w http.ResponseWriter, warnings []string) {
	for _, msg := range warnings {
		w.Header().Add("Warning", fmt.Sprintf("299 - %q", msg))
	}
}

// accept is what the client asked a response to be.
type accept struct {
	table    bool // meta.k8s.io/v1 Table
	metadata bool // PartialObjectMetadata(List)
	yaml     bool
}

// parseAccept is the form negotiate chose; serveResource has already
// refused, with 406, a request whose Accept it cannot serve.
func parseAccept(r *http.Request) accept {
	a, _ := negotiate(r)
	return a
}

// negotiate reads the Accept header as kube-apiserver's content
// negotiation does: clauses in order, the first that names a form the
// gateway produces wins (any JSON or YAML type, Table and
// PartialObjectMetadata(List) of meta.k8s.io/v1, */* and application/*),
// no header means JSON, and a header none of whose clauses it can produce
// is 406 Not Acceptable.
//
// One departure: Kubernetes' protobuf is answered as JSON (a client-go
// client configured for protobuf alone sends only that, and decodes
// whatever Content-Type the answer has), because wake does not encode
// protobuf yet and refusing those clients would break them.
func negotiate(r *http.Request) (accept, error) {
	var a accept
	header := strings.TrimSpace(r.Header.Get("Accept"))
	if header == "" {
		return a, nil
	}
	for _, clause := range strings.Split(header, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(clause))
		if err != nil {
			continue
		}
		switch mt {
		case "application/yaml":
			if params["as"] == "" {
				a.yaml = true
				return a, nil
			}
			continue
		case "application/json", "*/*", "application/*", protobufType:
		default:
			continue
		}
		if params["g"] == "meta.k8s.io" && params["v"] == "v1" {
			switch params["as"] {
			case "Table":
				a.table = true
				return a, nil
			case "PartialObjectMetadata", "PartialObjectMetadataList":
				a.metadata = true
				return a, nil
			}
			continue
		}
		if params["as"] == "" {
			return a, nil
		}
	}
	return a, statusError(http.StatusNotAcceptable, metav1.StatusReasonNotAcceptable,
		"only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf")
}

// writeBody writes a JSON document, as YAML when the client asked for it.
func writeBody(w http.ResponseWriter, a accept, code int, b []byte) {
	if a.yaml {
		if y, err := yaml.JSONToYAML(b); err == nil {
			w.Header().Set("Content-Type", "application/yaml")
			w.WriteHeader(code)
			w.Write(y)
			return
		}
	}
	writeRaw(w, code, b)
}
