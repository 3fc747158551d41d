package history

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Line says which revision last set one field of an object.
type Line struct {
	// Path is the field, JSONPath-like: .spec.replicas,
	// .metadata.labels["app.kubernetes.io/name"]. Arrays are whole fields
	// (a merge patch replaces them whole).
	Path            string          `json:"path"`
	Value           json.RawMessage `json:"value"`
	ResourceVersion uint64          `json:"resourceVersion,string"`
	Time            time.Time       `json:"time"`
	Actor           string          `json:"actor"`
	RequestID       string          `json:"requestID"`
	Change          string          `json:"change"`
}

// Blame folds an object's revisions (oldest first, from its creation) and
// returns, for every field of its latest state, the revision that last set
// it, sorted by path.
func Blame(revs []Revision) ([]Line, error) {
	lines := map[string]Line{}
	for _, r := range revs {
		if r.Change == "deleted" {
			continue
		}
		if r.Change == "created" {
			clear(lines)
		}
		var patch map[string]any
		if err := json.Unmarshal(r.Diff, &patch); err != nil {
			return nil, err
		}
		walk(patch, "", func(path string, v any) {
			prefix := path
			for p := range lines {
				if p == prefix || strings.HasPrefix(p, prefix+".") || strings.HasPrefix(p, prefix+"[") {
					delete(lines, p)
				}
			}
			if v == nil {
				return
			}
			raw, _ := json.Marshal(v)
			lines[path] = Line{Path: path, Value: raw, ResourceVersion: r.ResourceVersion, Time: r.Time,
				Actor: r.Actor, RequestID: r.RequestID, Change: r.Change}
		})
	}
	out := make([]Line, 0, len(lines))
	for _, l := range lines {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// walk calls fn for every leaf of a merge patch (nulls included; empty
// objects count as leaves).
func walk(m map[string]any, prefix string, fn func(path string, v any)) {
	for k, v := range m {
		p := prefix + pathKey(k)
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
			walk(sub, p, fn)
			continue
		}
		fn(p, v)
	}
}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

func pathKey(k string) string {
	if plainKey.MatchString(k) {
		return "." + k
	}
	b, _ := json.Marshal(k)
	return "[" + string(b) + "]"
}
