package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// runExplain is `wake explain <kind>/<name>`: why an object (a pod above
// all) is where it is and in its state, told from its history — the event
// that created it and who wrote it (a controller, on behalf of its owner),
// the scheduler's recorded decision, the node agent's reports, evictions
// and deletions with the inputs their writers recorded.
func runExplain(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	var cf clientFlags
	cf.register(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	obj, _, err := parseObjectArgs(pos)
	if err != nil || obj.name == "" {
		return fmt.Errorf("usage: wake explain <kind>/<name> [-n ns]: %v", err)
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	raw, err := c.getPages(ctx, "/history"+obj.path(c.namespace, false), 500, true, "revisions", true)
	if err != nil {
		return err
	}
	var doc struct {
		Revisions []explainRevision `json:"revisions"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("reading the history: %w", err)
	}
	sort.SliceStable(doc.Revisions, func(i, j int) bool { return doc.Revisions[i].seq() < doc.Revisions[j].seq() })
	name := obj.kind.Resource + "/" + obj.name
	if obj.kind.Namespaced {
		name = obj.kind.Resource + "/" + c.namespace + "/" + obj.name
	}
	fmt.Fprintf(stdout, "%s, from its %d revisions in the log:\n", name, len(doc.Revisions))
	for _, r := range doc.Revisions {
		for i, line := range explainRevisionLines(r) {
			prefix := fmt.Sprintf("  %-8s %s  ", r.ResourceVersion, r.Time)
			if i > 0 {
				prefix = strings.Repeat(" ", len(prefix))
			}
			fmt.Fprintln(stdout, prefix+line)
		}
	}
	return nil
}

// explainRevision is one revision as the history API gives it.
type explainRevision struct {
	ResourceVersion string          `json:"resourceVersion"`
	Time            string          `json:"time"`
	Change          string          `json:"change"`
	Actor           string          `json:"actor"`
	RequestID       string          `json:"requestID"`
	Detail          json.RawMessage `json:"detail"`
	Diff            json.RawMessage `json:"diff"`
}

func (r explainRevision) seq() uint64 {
	var n uint64
	fmt.Sscan(r.ResourceVersion, &n)
	return n
}

// explainDiff is the part of a revision's merge patch the story uses.
type explainDiff struct {
	Metadata struct {
		OwnerReferences []struct {
			Kind       string `json:"kind"`
			Name       string `json:"name"`
			Controller *bool  `json:"controller"`
		} `json:"ownerReferences"`
		DeletionTimestamp string `json:"deletionTimestamp"`
	} `json:"metadata"`
	Spec   map[string]json.RawMessage `json:"spec"`
	Status struct {
		Phase             string `json:"phase"`
		Reason            string `json:"reason"`
		Message           string `json:"message"`
		PodIP             string `json:"podIP"`
		NominatedNodeName string `json:"nominatedNodeName"`
		Conditions        []struct {
			Type, Status, Reason, Message string
		} `json:"conditions"`
		ContainerStatuses     []explainContainer `json:"containerStatuses"`
		InitContainerStatuses []explainContainer `json:"initContainerStatuses"`
	} `json:"status"`
}

type explainContainer struct {
	Name         string `json:"name"`
	Ready        bool   `json:"ready"`
	RestartCount int    `json:"restartCount"`
	State        map[string]struct {
		Reason   string `json:"reason"`
		Message  string `json:"message"`
		ExitCode *int   `json:"exitCode"`
	} `json:"state"`
}

// explainRevisionLines tells one revision in a line or a few.
func explainRevisionLines(r explainRevision) []string {
	var d explainDiff
	json.Unmarshal(r.Diff, &d)
	by := "by " + r.Actor
	var out []string
	switch r.Change {
	case "created":
		line := "created " + by
		for _, o := range d.Metadata.OwnerReferences {
			if o.Controller != nil && *o.Controller {
				line += fmt.Sprintf(", on behalf of its controller %s/%s", o.Kind, o.Name)
			}
		}
		out = append(out, line+requestOf(r))
	case "binding":
		out = append(out, "scheduled "+by+": "+decisionText(r.Detail))
	case "deletion":
		line := "deletion requested " + by + requestOf(r)
		if len(r.Detail) > 0 {
			line += ": " + compactDetail(r.Detail)
		}
		out = append(out, line)
	case "deleted":
		out = append(out, "deleted "+by+requestOf(r))
	case "status":
		out = append(out, statusLines(r, d)...)
	default:
		var fields []string
		for k := range d.Spec {
			fields = append(fields, "spec."+k)
		}
		sort.Strings(fields)
		line := r.Change + " changed " + by + requestOf(r)
		if len(fields) > 0 {
			line += ": " + strings.Join(fields, ", ")
		}
		if len(r.Detail) > 0 {
			line += " (" + compactDetail(r.Detail) + ")"
		}
		out = append(out, line)
	}
	return out
}

func requestOf(r explainRevision) string {
	if r.RequestID == "" {
		return ""
	}
	return " (request " + r.RequestID + ")"
}

// statusLines tells a status report: the phase, conditions that changed,
// containers' states, and, from the scheduler, why a pod does not fit.
func statusLines(r explainRevision, d explainDiff) []string {
	var parts []string
	if d.Status.Phase != "" {
		parts = append(parts, "phase "+d.Status.Phase)
	}
	if d.Status.Reason != "" {
		parts = append(parts, "reason "+d.Status.Reason)
	}
	if d.Status.PodIP != "" {
		parts = append(parts, "IP "+d.Status.PodIP)
	}
	if d.Status.NominatedNodeName != "" {
		parts = append(parts, "nominated for "+d.Status.NominatedNodeName)
	}
	for _, c := range d.Status.Conditions {
		s := c.Type + "=" + c.Status
		if c.Reason != "" {
			s += " (" + c.Reason + ")"
		}
		parts = append(parts, s)
	}
	for _, c := range append(d.Status.InitContainerStatuses, d.Status.ContainerStatuses...) {
		for state, st := range c.State {
			s := fmt.Sprintf("container %s %s", c.Name, state)
			if st.Reason != "" {
				s += " " + st.Reason
			}
			if st.ExitCode != nil {
				s += fmt.Sprintf(" exit %d", *st.ExitCode)
			}
			if c.RestartCount > 0 {
				s += fmt.Sprintf(" after %d restarts", c.RestartCount)
			}
			parts = append(parts, s)
		}
	}
	line := "status reported by " + r.Actor
	if len(parts) > 0 {
		line += ": " + strings.Join(parts, ", ")
	}
	out := []string{line}
	if d.Status.Message != "" {
		out = append(out, "message: "+d.Status.Message)
	}
	for _, c := range d.Status.Conditions {
		if c.Message != "" {
			out = append(out, c.Type+": "+c.Message)
		}
	}
	if len(r.Detail) > 0 {
		out = append(out, "the scheduler's view: "+decisionText(r.Detail))
	}
	return out
}

// decisionText tells a scheduler decision recorded in an event's detail.
func decisionText(raw json.RawMessage) string {
	var d struct {
		Node     string                    `json:"node"`
		Nodes    int                       `json:"nodes"`
		Feasible int                       `json:"feasible"`
		Filtered map[string]map[string]int `json:"filtered"`
		Scores   []struct {
			Node  string `json:"node"`
			Total int64  `json:"total"`
		} `json:"scores"`
		Nominated string   `json:"nominatedNode"`
		Victims   []string `json:"victims"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &d) != nil {
		return "no decision recorded"
	}
	var s string
	if d.Node != "" {
		s = fmt.Sprintf("node %s, %d of %d nodes feasible", d.Node, d.Feasible, d.Nodes)
	} else {
		s = fmt.Sprintf("no node: %d of %d nodes feasible", d.Feasible, d.Nodes)
	}
	if len(d.Scores) > 0 {
		var sc []string
		for _, x := range d.Scores {
			sc = append(sc, fmt.Sprintf("%s %d", x.Node, x.Total))
		}
		s += "; best scores " + strings.Join(sc, ", ")
	}
	var plugins []string
	for p := range d.Filtered {
		plugins = append(plugins, p)
	}
	sort.Strings(plugins)
	for _, p := range plugins {
		var rs []string
		for reason, n := range d.Filtered[p] {
			rs = append(rs, fmt.Sprintf("%d× %s", n, reason))
		}
		sort.Strings(rs)
		s += fmt.Sprintf("; filtered by %s: %s", p, strings.Join(rs, ", "))
	}
	if d.Nominated != "" {
		s += fmt.Sprintf("; preemption nominated %s, evicting %s", d.Nominated, strings.Join(d.Victims, ", "))
	}
	return s
}

// compactDetail is a recorded detail as one line of JSON.
func compactDetail(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
