package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/wakehq/wake/projections"
)

// viewerToken authenticates a user outside system:masters.
const viewerToken = "viewer-token"

// The whole log (the event feed, replay, audit) is for admins: anyone
// else gets 403 with Kubernetes' wording, and nothing of the log.
func TestWholeLogIsAdminOnly(t *testing.T) {
	e := startHistory(t, projections.Options{}, true)
	viewer := rest.CopyConfig(e.config)
	viewer.BearerToken = viewerToken
	hc, err := rest.HTTPClientFor(viewer)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/apis/wake.io/v1/events", "/apis/wake.io/v1/events?follow=true", "/apis/wake.io/v1/replay", "/apis/wake.io/v1/audit/verify"} {
		resp, err := hc.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var st metav1.Status
		if resp.StatusCode != http.StatusForbidden || json.Unmarshal(body, &st) != nil || st.Reason != metav1.StatusReasonForbidden ||
			!strings.Contains(st.Message, `User "viewer" cannot get resource`) {
			t.Errorf("%s as a viewer: %d %s, want 403 Forbidden", path, resp.StatusCode, body)
		}
		// (No sealer runs here: audit answers 503, never 403.)
		if code, body := e.wakeGetRaw(t, strings.TrimSuffix(path, "?follow=true")); code == http.StatusForbidden {
			t.Errorf("%s as an admin: %d %s", path, code, body)
		}
	}
}
