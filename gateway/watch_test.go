package gateway_test

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// openWatch starts a raw watch request and returns its event decoder.
func (e *env) openWatch(t *testing.T, query string) *json.Decoder {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", e.url+"/api/v1/namespaces/default/configmaps?watch=true&"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		t.Fatalf("watch: %s", resp.Status)
	}
	return json.NewDecoder(bufio.NewReader(resp.Body))
}

type rawEvent struct {
	Type   string
	Object struct {
		Kind     string
		Metadata metav1.ObjectMeta
	}
}

func next(t *testing.T, d *json.Decoder) rawEvent {
	t.Helper()
	var ev rawEvent
	done := make(chan error, 1)
	go func() { done <- d.Decode(&ev) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event within 10s")
	}
	return ev
}

func TestWatchInitialEventsAndSelectors(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	cms := e.client.CoreV1().ConfigMaps("default")
	for _, name := range []string{"a", "b"} {
		cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"team": name}}}, metav1.CreateOptions{})
	}
	d := e.openWatch(t, "sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&labelSelector=team%3Da")
	if ev := next(t, d); ev.Type != "ADDED" || ev.Object.Metadata.Name != "a" {
		t.Fatalf("first event %+v, want ADDED a", ev)
	}
	ev := next(t, d)
	if ev.Type != "BOOKMARK" || ev.Object.Metadata.Annotations[metav1.InitialEventsAnnotationKey] != "true" || ev.Object.Metadata.ResourceVersion == "" {
		t.Fatalf("want the initial-events-end bookmark, got %+v", ev)
	}
	// b moves into the selection: ADDED; a moves out: DELETED.
	cms.Patch(ctx, "b", "application/merge-patch+json", []byte(`{"metadata":{"labels":{"team":"a"}}}`), metav1.PatchOptions{})
	if ev := next(t, d); ev.Type != "ADDED" || ev.Object.Metadata.Name != "b" {
		t.Fatalf("got %+v, want ADDED b", ev)
	}
	cms.Patch(ctx, "a", "application/merge-patch+json", []byte(`{"metadata":{"labels":{"team":"z"}}}`), metav1.PatchOptions{})
	if ev := next(t, d); ev.Type != "DELETED" || ev.Object.Metadata.Name != "a" {
		t.Fatalf("got %+v, want DELETED a", ev)
	}
}

func TestWatchFromResourceVersion(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	cms := e.client.CoreV1().ConfigMaps("default")
	first, _ := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "first"}}, metav1.CreateOptions{})
	cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "second"}}, metav1.CreateOptions{})
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	cms.Delete(ctx, "first", metav1.DeleteOptions{})
	var got []string
	for len(got) < 2 {
		select {
		case ev := <-w.ResultChan():
			got = append(got, string(ev.Type)+" "+ev.Object.(*corev1.ConfigMap).Name)
		case <-time.After(10 * time.Second):
			t.Fatalf("only %v", got)
		}
	}
	if strings.Join(got, ",") != string(watch.Added)+" second,"+string(watch.Deleted)+" first" {
		t.Fatalf("events after %s: %v", first.ResourceVersion, got)
	}
}
