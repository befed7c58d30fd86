package postings

// hasText reports whether e's repository name, one of its annotation
// values or one of its tags holds needle (ASCII letters lowered), folding
// the case of ASCII letters only: what SQL's LIKE does in both stores.
// The index tests it on each artifact it considers rather than keeping a
// set: a walk along the sort order stops once the page is full, as SQL's
// does, and a sparse set of other filters is tested artifact by artifact.
func (ix *Index) hasText(e *entry, needle string) bool {
	if containsFold(e.repo.name, needle) {
		return true
	}
	for i := 1; i < len(e.annots); i += 2 {
		if containsFold(ix.strs.strs[e.annots[i]], needle) {
			return true
		}
	}
	for _, t := range e.tags {
		if containsFold(ix.strs.strs[t], needle) {
			return true
		}
	}
	return false
}

// foldASCII lowers the ASCII letters of s.
func foldASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// containsFold reports whether s holds needle (ASCII letters lowered),
// ASCII letters of s compared lowered.
func containsFold(s, needle string) bool {
	n := len(needle)
	if n == 0 {
		return true
	}
	first := needle[0]
	upper := first
	if 'a' <= first && first <= 'z' {
		upper = first - 'a' + 'A'
	}
	for i := 0; i+n <= len(s); i++ {
		if c := s[i]; c != first && c != upper {
			continue
		}
		if equalFold(s[i+1:i+n], needle[1:]) {
			return true
		}
	}
	return false
}

// equalFold compares s with a lowered needle, lowering ASCII letters of s.
func equalFold(s, needle string) bool {
	for i := 0; i < len(needle); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != needle[i] {
			return false
		}
	}
	return true
}
