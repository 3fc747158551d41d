package projections

import (
	"bytes"
	"maps"
	"testing"

	"github.com/wakehq/wake/events"
)

func buildEvent(data string) events.Event {
	return events.Event{Seq: 42, Type: events.ObjectUpdated, Ref: events.Ref{Resource: "configmaps", Namespace: "default", Name: "a"}, Data: []byte(data)}
}

var buildSeeds = []string{
	`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"default","uid":"u","labels":{"x":"y"}},"data":{"k":"v"}}`,
	`{"metadata":{"namespace":"default","name":"a","resourceVersion":"7"},"data":{"k":"a <b> & c\u2028"}}`,
	"{ \"kind\" : \"ConfigMap\",\n \"metadata\": { \"name\": \"a\", \"namespace\": \"default\" },\n \"data\": { \"k\": \"with spaces\" } }",
	`{"metadata":{"name":"a","namespace":"default"},"metadata":{"name":"a","namespace":"default","labels":{"dup":"last"}}}`,
	`{"metadata":{"name":"a","namespace":"default","na\u006de":"a"},"\u00e9t\u00e9":1,"<html>":true}`,
	`{"metadata":{"Name":"a","namespace":"default"}}`,
	`{"metadata":{"name":"a","namespace":"default","labels":{"a":"1"},"labels":{"b":"2"}}}`,
	`{"metadata":{"name":"a","namespace":"default","LABELS":{"a":"1"},"uid":"x","UID":"y"}}`,
	`{"metadata":{"name":"a","namespace":"default","labels":{"a":null,"b":"\u00e9\ud800","c":"\xff"}}}`,
	`{"metadata":{"name":"a","namespace":"default","labels":{}, "uid":null}}`,
	`{"metadata":{"name":"a","namespace":"default","labels":null}}`,
	`{"metadata":{"name":"a","namespace":"default","labels":{"a":1}}}`,
	`{"metadata":{"name":"a","namespace":"default","uid":7}}`,
	`{"metadata":{"name":"a","namespace":"default","\u017fid":"kelvin"}}`,
	"{\"metadata\":{\"name\":\"a\",\"namespace\":\"default\",\"uid\":\"\xff\xfe\"}}",
	`{"metadata":null}`, `{"metadata":"x"}`, `[1]`, `not json`, `{"metadata":{"name":"a","namespace":"default"},"spec":[1,2,{"a":[]}],"n":-1.5e3}`,
}

// The fast BuildObject gives exactly the bytes the straightforward one does.
func TestBuildObjectMatchesReference(t *testing.T) {
	for _, s := range buildSeeds {
		checkBuild(t, s)
	}
}

func FuzzBuildObject(f *testing.F) {
	for _, s := range buildSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkBuild(t, s) })
}

func checkBuild(t *testing.T, data string) {
	t.Helper()
	want, wantErr := buildObjectReference(buildEvent(data))
	got, gotErr := BuildObject(buildEvent(data))
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("%q: reference error %v, fast error %v", data, wantErr, gotErr)
	}
	if wantErr != nil {
		return
	}
	if !bytes.Equal(got.Raw, want.Raw) || got.UID != want.UID || !maps.Equal(got.Labels, want.Labels) || (got.Labels == nil) != (want.Labels == nil) {
		t.Fatalf("%q:\nfast      %s\nreference %s", data, got.Raw, want.Raw)
	}
}

func BenchmarkBuildObject(b *testing.B) {
	ev := buildEvent(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","namespace":"default","uid":"6f1c0c1e-1111-2222-3333-444455556666","creationTimestamp":"2026-11-23T12:00:00Z","labels":{"app":"web","pod-template-hash":"858bd54fd"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-858bd54fd","uid":"u2","controller":true,"blockOwnerDeletion":true}]},"spec":{"containers":[{"name":"web","image":"nginx:1.25","ports":[{"containerPort":80,"protocol":"TCP"}],"resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","serviceAccountName":"default","securityContext":{},"schedulerName":"default-scheduler","enableServiceLinks":true,"preemptionPolicy":"PreemptLowerPriority"},"status":{"phase":"Pending","qosClass":"BestEffort"}}`)
	ev.Ref.Resource = "pods"
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			BuildObject(ev)
		}
	})
	b.Run("reference", func(b *testing.B) {
		for b.Loop() {
			buildObjectReference(ev)
		}
	})
}
