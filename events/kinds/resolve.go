package kinds

import "strings"

// Resolve finds a kind the way kubectl does from what a user types: its
// plural resource, singular, short name or kind, case-insensitively,
// optionally qualified by group ("deployments.apps", "deploy.apps").
func Resolve(name string) (Kind, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	base, group, qualified := strings.Cut(name, ".")
	for _, k := range all {
		if qualified && k.Group != group {
			continue
		}
		if base == k.Resource || base == k.Singular || base == strings.ToLower(k.Kind) {
			return k, true
		}
		for _, s := range k.ShortNames {
			if base == s {
				return k, true
			}
		}
	}
	return Kind{}, false
}
