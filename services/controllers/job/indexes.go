package job

import (
	"sort"
	"strconv"
	"strings"
)

// parseIndexes reads status.completedIndexes ("1,3-5,7") into its indexes;
// malformed parts are skipped.
func parseIndexes(s string) []int {
	var out []int
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				continue
			}
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	return out
}

// formatIndexes writes the indexes below n as upstream does: ascending,
// every run of consecutive indexes as "a-b", a lone index alone.
func formatIndexes(set map[int]bool, n int) string {
	var idx []int
	for i := range set {
		if i < n {
			idx = append(idx, i)
		}
	}
	sort.Ints(idx)
	var b strings.Builder
	for k := 0; k < len(idx); {
		e := k
		for e+1 < len(idx) && idx[e+1] == idx[e]+1 {
			e++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(idx[k]))
		if e > k {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(idx[e]))
		}
		k = e + 1
	}
	return b.String()
}
