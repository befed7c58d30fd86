package sqlquery

import (
	"strings"
	"unicode/utf8"
)

// likeEscape is the escape character of the LIKE patterns this package
// makes (the SQL text says ESCAPE '\').
const likeEscape = `\`

// containsPattern returns the LIKE pattern (with ESCAPE '\') that matches
// strings containing s literally: %, _ and \ in s lose their meaning.
func containsPattern(s string) string {
	r := strings.NewReplacer(likeEscape, likeEscape+likeEscape, "%", likeEscape+"%", "_", likeEscape+"_")
	return "%" + r.Replace(s) + "%"
}

// successor returns the least string greater than every string that
// starts with p, in byte order (which is code point order for UTF-8), so
// that "s starts with p" is "p <= s AND s < successor(p)": the last code
// point of p below U+10FFFF is incremented (stepping over the surrogates)
// and what follows it dropped. ok is false when there is no such string
// (p is empty or all U+10FFFF): then "p <= s" alone is the condition. p
// must be valid UTF-8; so is the result.
func successor(p string) (next string, ok bool) {
	rs := []rune(p)
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i] == utf8.MaxRune {
			continue
		}
		r := rs[i] + 1
		if r == 0xD800 {
			r = 0xE000
		}
		return string(rs[:i]) + string(r), true
	}
	return "", false
}

// checkText refuses a string that no stored string can equal or contain:
// one that is not valid UTF-8 or holds NUL (PostgreSQL refuses both as
// text, and SQLite's copies hold neither since they come from JSON and
// from names the registry validated).
func checkText(what, s string) error {
	if !utf8.ValidString(s) {
		return invalid("%s %q is not valid UTF-8", what, s)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return invalid("%s %q holds NUL", what, s)
	}
	return nil
}
