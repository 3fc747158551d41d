package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// runRollout is `wake rollout history|undo deploy/<name>`: kubectl's
// rollout history and undo, but over every revision the log holds — the
// ReplicaSets a Deployment's revisionHistoryLimit deleted long ago too.
func runRollout(ctx context.Context, args []string, stdout io.Writer) error {
	const usage = "usage: wake rollout history deploy/<name> [-n ns] | wake rollout undo deploy/<name> --to-revision N [-n ns]"
	if len(args) == 0 || (args[0] != "history" && args[0] != "undo") {
		return fmt.Errorf("%s", usage)
	}
	sub := args[0]
	fs := flag.NewFlagSet("rollout "+sub, flag.ContinueOnError)
	var cf clientFlags
	cf.register(fs)
	to := fs.Int64("to-revision", 0, "undo: the revision to go back to (0: the one before the current)")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	obj, _, err := parseObjectArgs(pos)
	if err != nil || obj.name == "" || obj.kind.Resource != "deployments" {
		return fmt.Errorf("%s: %v", usage, err)
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(c.rest)
	if err != nil {
		return err
	}
	dep, err := cs.AppsV1().Deployments(c.namespace).Get(ctx, obj.name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	revs, err := deploymentRevisions(ctx, c, dep)
	if err != nil {
		return err
	}
	current := revisionOf(dep.Annotations)
	if sub == "history" {
		fmt.Fprintf(stdout, "deployment.apps/%s\n", dep.Name)
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "REVISION\tREPLICASET\tKEPT\tIMAGES\tCHANGE-CAUSE")
		for _, r := range revs {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", r.number, r.replicaSet, yesNo(r.kept), strings.Join(r.images(), ","), orNone(r.cause))
		}
		return tw.Flush()
	}
	var target *deploymentRevision
	for i := range revs {
		r := &revs[i]
		if (*to == 0 && r.number < current && (target == nil || r.number > target.number)) || r.number == *to {
			target = r
		}
	}
	if target == nil {
		if *to == 0 {
			return fmt.Errorf("deployment %s has no revision before %d in the log", dep.Name, current)
		}
		return fmt.Errorf("deployment %s has no revision %d in the log", dep.Name, *to)
	}
	tmpl := target.template.DeepCopy()
	delete(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	patch, err := json.Marshal([]map[string]any{{"op": "replace", "path": "/spec/template", "value": tmpl}})
	if err != nil {
		return err
	}
	if _, err := cs.AppsV1().Deployments(c.namespace).Patch(ctx, dep.Name, types.JSONPatchType, patch, metav1.PatchOptions{}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "deployment.apps/%s rolled back to revision %d (ReplicaSet %s%s)\n", dep.Name, target.number, target.replicaSet,
		map[bool]string{true: "", false: ", deleted since: from the log"}[target.kept])
	return nil
}

// deploymentRevision is one revision of a Deployment: the pod template its
// ReplicaSet had when it carried that revision number.
type deploymentRevision struct {
	number     int64
	replicaSet string
	kept       bool // the ReplicaSet still exists
	cause      string
	template   corev1.PodTemplateSpec
}

func (r deploymentRevision) images() []string {
	var out []string
	for _, c := range r.template.Spec.Containers {
		out = append(out, c.Image)
	}
	return out
}

// deploymentRevisions reads every ReplicaSet event of the namespace from
// the log and keeps, per revision number, the template of the Deployment's
// ReplicaSet that carried it (the latest such event).
func deploymentRevisions(ctx context.Context, c *apiClient, dep *appsv1.Deployment) ([]deploymentRevision, error) {
	q := url.Values{"kind": {"replicasets"}, "namespace": {dep.Namespace}}
	resp, err := c.get(ctx, "/events", q, "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	byNumber := map[int64]*deploymentRevision{}
	live := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		var ce struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ce); err != nil {
			return nil, fmt.Errorf("reading the log: %w", err)
		}
		var rs appsv1.ReplicaSet
		if json.Unmarshal(ce.Data, &rs) != nil || !controlledBy(&rs, dep.UID) {
			continue
		}
		if strings.HasSuffix(ce.Type, ".deleted.v1") {
			delete(live, rs.Name)
			continue
		}
		live[rs.Name] = true
		n := revisionOf(rs.Annotations)
		if n == 0 {
			continue
		}
		byNumber[n] = &deploymentRevision{number: n, replicaSet: rs.Name, cause: rs.Annotations["kubernetes.io/change-cause"], template: rs.Spec.Template}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	out := make([]deploymentRevision, 0, len(byNumber))
	for _, r := range byNumber {
		r.kept = live[r.replicaSet]
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].number < out[j].number })
	return out, nil
}

func controlledBy(rs *appsv1.ReplicaSet, uid types.UID) bool {
	for _, o := range rs.OwnerReferences {
		if o.UID == uid && o.Controller != nil && *o.Controller {
			return true
		}
	}
	return false
}

func revisionOf(annotations map[string]string) int64 {
	n, _ := strconv.ParseInt(annotations["deployment.kubernetes.io/revision"], 10, 64)
	return n
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no (log)"
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
