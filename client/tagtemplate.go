package client

import (
	"fmt"
	"slices"
	"strings"
)

// maxTagLength is the OCI tag grammar's limit: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
const maxTagLength = 128

// FillTagTemplate replaces each {name} in tmpl with the value of an
// annotation and sanitises the result with SanitizeTag. A name is the
// annotation's key ({org.example.year}) or, when only one key ends with it,
// the last dot-separated part of the key ({year}). A name no annotation has,
// or that two keys end with, is an error naming it.
func FillTagTemplate(tmpl string, annotations map[string]string) (string, error) {
	var b strings.Builder
	rest := tmpl
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			if strings.IndexByte(rest, '}') >= 0 {
				return "", fmt.Errorf("tag template %q has a } without {%.0w", tmpl, ErrInvalidInput)
			}
			b.WriteString(rest)
			break
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return "", fmt.Errorf("tag template %q has a { without }%.0w", tmpl, ErrInvalidInput)
		}
		b.WriteString(rest[:open])
		name := strings.TrimSpace(rest[open+1 : open+end])
		v, err := templateValue(name, annotations)
		if err != nil {
			return "", fmt.Errorf("tag template %q: %w%.0w", tmpl, err, ErrInvalidInput)
		}
		b.WriteString(v)
		rest = rest[open+end+1:]
	}
	tag := SanitizeTag(b.String())
	if tag == "" {
		return "", fmt.Errorf("tag template %q gives an empty tag%.0w", tmpl, ErrInvalidInput)
	}
	return tag, nil
}

func templateValue(name string, annotations map[string]string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("{} names no annotation")
	}
	if v, ok := annotations[name]; ok {
		return v, nil
	}
	var keys []string
	for k := range annotations {
		if strings.HasSuffix(k, "."+name) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	switch len(keys) {
	case 0:
		return "", fmt.Errorf("no annotation {%s}; add --annotation %s=VALUE (or a key ending in .%s)", name, name, name)
	case 1:
		return annotations[keys[0]], nil
	}
	return "", fmt.Errorf("{%s} could be any of %s; spell the whole key", name, strings.Join(keys, ", "))
}

// SanitizeTag makes s a valid OCI tag: lower case; every run of characters
// other than a-z, 0-9, '.', '_' and '-' becomes one '-'; leading '.' and
// '-' (which the grammar forbids first) and trailing '-' are dropped; at
// most 128 characters.
func SanitizeTag(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
			dash = r == '-'
		default:
			if !dash {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	tag := strings.TrimLeft(b.String(), ".-")
	if len(tag) > maxTagLength {
		tag = tag[:maxTagLength]
	}
	return strings.TrimRight(tag, "-")
}
