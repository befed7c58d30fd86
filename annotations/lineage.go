package annotations

import (
	"errors"
	"fmt"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// Ref is one reference of a DerivedFrom annotation: an artifact by digest,
// in this registry (Registry "") or in another.
type Ref struct {
	Registry   string
	Repository string
	Digest     digest.Digest
}

// String returns the reference as the annotation writes it.
func (r Ref) String() string {
	s := r.Repository + "@" + r.Digest.String()
	if r.Registry != "" {
		s = r.Registry + "/" + s
	}
	return s
}

// ErrInvalidDerivedFrom is returned (wrapped) for a DerivedFrom annotation
// that does not parse.
var ErrInvalidDerivedFrom = errors.New("invalid " + DerivedFrom + " annotation")

// nameHost stands in for a registry host so that a name is checked as the
// path of a reference: the reference package matches names with an
// optional host, and a first component such as "localhost:5000",
// "Example.com" or "Team" is a host there, never a repository name here.
const nameHost = "cairn.invalid"

// ValidRepository reports whether name is a repository name by the
// distribution spec's grammar (the reference package's): path components
// of lower-case letters and digits joined by separators (. _ __ -), the
// components joined by /, at most 255 characters. Every place cairn reads
// a repository name (paths, lineage references, the repair journal) checks
// it with this.
func ValidRepository(name string) bool {
	named, err := reference.WithName(nameHost + "/" + name)
	return err == nil && reference.Domain(named) == nameHost && reference.Path(named) == name
}

// splitRegistry splits a name into its registry host and repository by
// docker's rule: the first component names a registry when it holds a dot
// or a colon or is localhost. (The reference package's own split also
// takes an upper-case first component for a host and rewrites Docker
// Hub's names, which cairn does not.)
func splitRegistry(name string) (registry, repository string) {
	if first, rest, ok := strings.Cut(name, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first, rest
	}
	return "", name
}

// maxDerivedFrom bounds how many references one annotation may list.
const maxDerivedFrom = 256

// ParseDerivedFrom parses a DerivedFrom annotation: references separated by
// commas (spaces around them are ignored), each repository@digest or
// registry/repository@digest (splitRegistry tells them apart). Duplicates
// are dropped.
func ParseDerivedFrom(v string) ([]Ref, error) {
	var refs []Ref
	seen := map[Ref]bool{}
	for i, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("%w: reference %d is empty; list references as repository@sha256:<hex>, separated by commas", ErrInvalidDerivedFrom, i+1)
		}
		if i == maxDerivedFrom {
			return nil, fmt.Errorf("%w: more than %d references", ErrInvalidDerivedFrom, maxDerivedFrom)
		}
		name, dg, ok := strings.Cut(part, "@")
		if !ok {
			return nil, fmt.Errorf("%w: %q names no digest; write repository@sha256:<hex> (a tag is not stable enough to record what data was made from)", ErrInvalidDerivedFrom, part)
		}
		d, err := digest.Parse(dg)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: digest %q: %v", ErrInvalidDerivedFrom, part, dg, err)
		}
		r := Ref{Digest: d}
		r.Registry, r.Repository = splitRegistry(name)
		if !ValidRepository(r.Repository) {
			return nil, fmt.Errorf("%w: %q: %q is not a repository name (lower case letters, digits and separators, as in team/dataset)", ErrInvalidDerivedFrom, part, r.Repository)
		}
		if !seen[r] {
			seen[r] = true
			refs = append(refs, r)
		}
	}
	return refs, nil
}
