package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
)

// toStatus maps any error to the Kubernetes Status the client sees. This is
// the one table from internal errors to API errors: handlers return errors,
// and only this function decides codes and reasons.
func toStatus(err error, gr schema.GroupResource, name string) *apierrors.StatusError {
	var se *apierrors.StatusError
	switch {
	case errors.As(err, &se):
		return se
	case errors.Is(err, events.ErrConflict):
		return apierrors.NewConflict(gr, name, errors.New(conflictMessage))
	case errors.Is(err, projections.ErrExpired):
		return apierrors.NewResourceExpired(err.Error())
	case errors.Is(err, events.ErrUnavailable):
		return apierrors.NewServiceUnavailable(fmt.Sprintf("the event log is unavailable: %v", err))
	case errors.Is(err, context.DeadlineExceeded):
		return apierrors.NewTimeoutError(fmt.Sprintf("request did not complete in time: %v", err), 1)
	case errors.Is(err, context.Canceled):
		return apierrors.NewTimeoutError("request was cancelled", 0)
	}
	return apierrors.NewInternalError(err)
}

const conflictMessage = "the object has been modified; please apply your changes to the latest version and try again"

// writeError sends err as a Status with its code.
func writeError(w http.ResponseWriter, r *http.Request, err error, gr schema.GroupResource, name string) {
	st := toStatus(err, gr, name).Status()
	st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	if st.Code == 0 {
		st.Code = http.StatusInternalServerError
	}
	writeJSON(w, int(st.Code), &st)
}

var errNotReady = apierrors.NewServiceUnavailable("wake is catching up with the event log; try again shortly")

func statusError(code int32, reason metav1.StatusReason, msg string) *apierrors.StatusError {
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: code, Reason: reason, Message: msg}}
}

func methodNotAllowed(r *http.Request, t target) error {
	return apierrors.NewMethodNotSupported(t.gr(), r.Method)
}

func unsupportedMediaType(mt string) error {
	return statusError(http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType, fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got %s)", mt))
}
