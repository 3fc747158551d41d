package scheduler

import (
	"encoding/json"

	"github.com/wakehq/wake/events"
)

// detail is a decision as it travels in Event.Detail: compact, and bounded
// whatever the cluster's size (reasons are counted; node names are listed
// only for small clusters).
type detail struct {
	Node      string                    `json:"node,omitempty"`
	Nodes     int                       `json:"nodes"`
	Evaluated int                       `json:"evaluated"`
	Feasible  int                       `json:"feasible"`
	Filtered  map[string]map[string]int `json:"filtered,omitempty"` // plugin → reason → nodes
	// FilteredNodes names the filtered nodes by plugin when there are at
	// most maxNamedNodes of them.
	FilteredNodes map[string][]string `json:"filteredNodes,omitempty"`
	Scores        []NodeScore         `json:"scores,omitempty"`
	Nominated     string              `json:"nominatedNode,omitempty"`
	Victims       []string            `json:"victims,omitempty"`
	MoreVictims   int                 `json:"moreVictims,omitempty"`
}

const (
	maxNamedNodes = 50
	maxVictims    = 100
)

// Detail renders a decision as compact JSON of at most events.MaxDetail
// bytes.
func (d Decision) Detail() string {
	out := detail{Node: d.Node, Nodes: d.Nodes, Evaluated: d.Evaluated, Feasible: d.Feasible, Scores: d.Scores, Nominated: d.NominatedNode}
	if len(d.Failures) > 0 {
		out.Filtered = map[string]map[string]int{}
		for _, f := range d.Failures {
			if out.Filtered[f.Plugin] == nil {
				out.Filtered[f.Plugin] = map[string]int{}
			}
			for _, r := range f.Reasons {
				out.Filtered[f.Plugin][r]++
			}
		}
		if len(d.Failures) <= maxNamedNodes {
			out.FilteredNodes = map[string][]string{}
			for _, f := range d.Failures {
				out.FilteredNodes[f.Plugin] = append(out.FilteredNodes[f.Plugin], f.Node)
			}
		}
	}
	out.Victims = d.Victims
	if len(d.Victims) > maxVictims {
		out.Victims, out.MoreVictims = d.Victims[:maxVictims], len(d.Victims)-maxVictims
	}
	b, _ := json.Marshal(out)
	if len(b) > events.MaxDetail {
		out.FilteredNodes, out.Victims, out.Scores = nil, nil, nil
		out.MoreVictims = len(d.Victims)
		b, _ = json.Marshal(out)
	}
	return string(b)
}
