package sqlquery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"
)

// Spelling spells statements written with a ? for each argument in a
// dialect, each text once.
type Spelling struct {
	d     Dialect
	texts sync.Map // the spelt text, by the text with ?
}

// NewSpelling returns the Spelling of d.
func NewSpelling(d Dialect) *Spelling { return &Spelling{d: d} }

// Dialect returns the dialect s spells in.
func (s *Spelling) Dialect() Dialect { return s.d }

// Statement returns q, whose only ? are its placeholders, in s's dialect,
// with args.
func (s *Spelling) Statement(q string, args ...any) Statement {
	t, ok := s.texts.Load(q)
	if !ok {
		var b strings.Builder
		n := 0
		for i := range len(q) {
			if q[i] == '?' {
				n++
				b.WriteString(s.d.Placeholder(n))
			} else {
				b.WriteByte(q[i])
			}
		}
		t = b.String()
		s.texts.Store(q, t)
	}
	return Statement{SQL: t.(string), Args: args}
}

// Rows runs a store's queries of one column or one row.
type Rows interface {
	// Strings returns the first column of every row st returns.
	Strings(ctx context.Context, st Statement) ([]string, error)
	// Row scans the one row st returns into dest; catalog.ErrNotFound if
	// it returns none.
	Row(ctx context.Context, st Statement, dest ...any) error
}

// Lookups answers the catalog's reads of one statement whose rows need no
// store's own decoding: the methods of catalog.Store that they are.
// catalog/sqlite and catalog/postgres embed it.
type Lookups struct {
	store string // the prefix of errors
	db    Rows
	sp    *Spelling
}

// NewLookups returns the Lookups of the store named store (in errors),
// whose queries db runs in dialect d.
func NewLookups(store string, d Dialect, db Rows) *Lookups {
	return &Lookups{store: store, db: db, sp: NewSpelling(d)}
}

func (l *Lookups) errorf(format string, a ...any) error {
	return fmt.Errorf(l.store+": "+format, a...)
}

// Repositories lists the repositories holding at least one manifest, sorted.
func (l *Lookups) Repositories(ctx context.Context) ([]string, error) {
	repos, err := l.db.Strings(ctx, l.sp.Statement(`SELECT DISTINCT repository FROM manifests ORDER BY repository`))
	if err != nil {
		return nil, l.errorf("repositories: %w", err)
	}
	return repos, nil
}

// Pending lists the repositories with marks, sorted, without duplicates.
func (l *Lookups) Pending(ctx context.Context) ([]string, error) {
	repos, err := l.db.Strings(ctx, l.sp.Statement(`SELECT DISTINCT repository FROM pending ORDER BY repository`))
	if err != nil {
		return nil, l.errorf("pending: %w", err)
	}
	return repos, nil
}

// Stats counts the repositories, manifests and tags.
func (l *Lookups) Stats(ctx context.Context) (catalog.Stats, error) {
	var st catalog.Stats
	err := l.db.Row(ctx, l.sp.Statement(`
SELECT
	(SELECT COUNT(DISTINCT repository) FROM manifests),
	(SELECT COUNT(*) FROM manifests),
	(SELECT COUNT(*) FROM tags)`), &st.Repositories, &st.Manifests, &st.Tags)
	if err != nil {
		return catalog.Stats{}, l.errorf("stats: %w", err)
	}
	return st, nil
}

// ResolveTag returns the digest a tag points at; ErrNotFound if there is no
// such tag.
func (l *Lookups) ResolveTag(ctx context.Context, repo, tag string) (digest.Digest, error) {
	var dgst string
	if err := l.db.Row(ctx, l.sp.Statement(`SELECT digest FROM tags WHERE repository = ? AND tag = ?`, repo, tag), &dgst); err != nil {
		return "", l.errorf("resolve tag %s:%s: %w", repo, tag, err)
	}
	return digest.Digest(dgst), nil
}

// Setting returns a stored setting, "" if none.
func (l *Lookups) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := l.db.Row(ctx, l.sp.Statement(`SELECT value FROM settings WHERE key = ?`, key), &v)
	if errors.Is(err, catalog.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", l.errorf("setting %s: %w", key, err)
	}
	return v, nil
}

// Ownership returns who owns a manifest and its visibility.
func (l *Lookups) Ownership(ctx context.Context, repo string, dgst digest.Digest) (string, catalog.Visibility, error) {
	var owner, vis *string
	err := l.db.Row(ctx, l.sp.Statement(`SELECT o.owner, o.visibility FROM manifests m LEFT JOIN owners o ON o.repository = m.repository AND o.digest = m.digest
WHERE m.repository = ? AND m.digest = ?`, repo, string(dgst)), &owner, &vis)
	if err != nil {
		return "", "", l.errorf("owner of %s@%s: %w", repo, dgst, err)
	}
	if owner == nil {
		return "", catalog.Inherit, nil
	}
	return *owner, catalog.Visibility(*vis), nil
}

// VisibleTags lists the tags of repo whose manifests v sees.
func (l *Lookups) VisibleTags(ctx context.Context, repo string, v *catalog.Viewer) ([]string, error) {
	out, err := l.db.Strings(ctx, VisibleTags(l.sp.Dialect(), repo, v))
	if err != nil {
		return nil, l.errorf("tags of %s: %w", repo, err)
	}
	return out, nil
}
