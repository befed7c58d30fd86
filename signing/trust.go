package signing

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

// PrefixTrust is the trust policy of the repositories whose names start with
// Prefix ("" is every repository).
type PrefixTrust struct {
	Prefix string
	// Keys are the keys whose signatures count.
	Keys []*PublicKey
	// RequireSignature refuses to serve a manifest without a verified
	// signature from one of Keys.
	RequireSignature bool
}

// Trust is the server's trust policy: rules by repository prefix, the
// longest matching prefix deciding.
type Trust struct {
	rules []PrefixTrust // longest prefix first
}

// NewTrust checks rules: one rule per prefix, and a rule that requires
// signatures must name a key to verify them with.
func NewTrust(rules []PrefixTrust) (*Trust, error) {
	seen := map[string]bool{}
	for _, r := range rules {
		if seen[r.Prefix] {
			return nil, fmt.Errorf("trust: prefix %q appears twice; merge its keys into one rule", r.Prefix)
		}
		seen[r.Prefix] = true
		if r.RequireSignature && len(r.Keys) == 0 {
			return nil, fmt.Errorf("trust: prefix %q requires signatures but names no key to verify them with", r.Prefix)
		}
	}
	t := &Trust{rules: append([]PrefixTrust(nil), rules...)}
	sort.SliceStable(t.rules, func(i, j int) bool {
		if len(t.rules[i].Prefix) != len(t.rules[j].Prefix) {
			return len(t.rules[i].Prefix) > len(t.rules[j].Prefix)
		}
		return t.rules[i].Prefix < t.rules[j].Prefix
	})
	return t, nil
}

// For returns the rule that governs repo, and false when none does (no
// keys are trusted there and nothing is required).
func (t *Trust) For(repo string) (PrefixTrust, bool) {
	if t == nil {
		return PrefixTrust{}, false
	}
	for _, r := range t.rules {
		if strings.HasPrefix(repo, r.Prefix) {
			return r, true
		}
	}
	return PrefixTrust{}, false
}

// Rules returns the rules, longest prefix first.
func (t *Trust) Rules() []PrefixTrust {
	if t == nil {
		return nil
	}
	return t.rules
}

// Fingerprint changes whenever which key is trusted where changes: stored
// beside verification results, it tells when they must be recomputed.
func (t *Trust) Fingerprint() string {
	h := sha256.New()
	for _, r := range t.Rules() {
		ids := make([]string, len(r.Keys))
		for i, k := range r.Keys {
			ids[i] = k.ID
		}
		sort.Strings(ids)
		fmt.Fprintf(h, "%q:%s\n", r.Prefix, strings.Join(ids, ","))
	}
	return hex.EncodeToString(h.Sum(nil))
}
