package registry

import "github.com/distribution/reference"

// ValidName reports whether name is a repository name by the
// distribution grammar.
func ValidName(name string) bool {
	_, err := reference.WithName(name)
	return err == nil
}
