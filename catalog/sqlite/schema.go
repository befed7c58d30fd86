package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/sqlquery"
	"github.com/cairn-dev/cairn/catalog/sqlwrite"
)

// migration is one schema change: SQL, then Go code (if any) that rewrites
// rows, in the migration's transaction.
type migration struct {
	sql string
	fn  func(ctx context.Context, tx *sql.Tx) error
}

// migrations are the schema changes, in order: migrations[i] brings the
// schema from version i to version i+1. Append new ones; never edit one that
// has shipped.
var migrations = []migration{
	// 1: the initial schema. Times are microseconds since the Unix epoch,
	// annotations are JSON objects as text.
	{sql: `
CREATE TABLE manifests (
	repository    TEXT    NOT NULL,
	digest        TEXT    NOT NULL,
	media_type    TEXT    NOT NULL,
	artifact_type TEXT    NOT NULL DEFAULT '',
	annotations   TEXT    NOT NULL DEFAULT '{}',
	subject       TEXT    NOT NULL DEFAULT '',
	size          INTEGER NOT NULL,
	pushed_at     INTEGER NOT NULL,
	PRIMARY KEY (repository, digest)
);
CREATE INDEX manifests_subject ON manifests (repository, subject);

CREATE TABLE tags (
	repository TEXT NOT NULL,
	tag        TEXT NOT NULL,
	digest     TEXT NOT NULL,
	PRIMARY KEY (repository, tag),
	FOREIGN KEY (repository, digest) REFERENCES manifests (repository, digest) ON DELETE CASCADE
);
CREATE INDEX tags_digest ON tags (repository, digest);

CREATE TABLE layers (
	repository      TEXT    NOT NULL,
	manifest_digest TEXT    NOT NULL,
	position        INTEGER NOT NULL,
	kind            TEXT    NOT NULL,
	digest          TEXT    NOT NULL,
	media_type      TEXT    NOT NULL,
	size            INTEGER NOT NULL,
	artifact_type   TEXT    NOT NULL DEFAULT '',
	title           TEXT    NOT NULL DEFAULT '',
	annotations     TEXT    NOT NULL DEFAULT '{}',
	PRIMARY KEY (repository, manifest_digest, position),
	FOREIGN KEY (repository, manifest_digest) REFERENCES manifests (repository, digest) ON DELETE CASCADE
);
CREATE INDEX layers_digest ON layers (digest);

CREATE TABLE annotations (
	repository TEXT NOT NULL,
	digest     TEXT NOT NULL,
	key        TEXT NOT NULL,
	value      TEXT NOT NULL,
	PRIMARY KEY (repository, digest, key),
	FOREIGN KEY (repository, digest) REFERENCES manifests (repository, digest) ON DELETE CASCADE
);
CREATE INDEX annotations_key_value ON annotations (key, value);

CREATE TABLE pending (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	repository TEXT    NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX pending_repository ON pending (repository);
`},

	// 2: the catalog API's queries. total_size is what ParseManifest sums
	// (the manifest and every config, layer and child it lists), backfilled
	// from layers; sort_key is annotations.SortKey(value), backfilled in Go.
	// An index per sort of artifacts (by repository is the primary key),
	// annotation sort keys for sorts and ranges, and digests, subjects and
	// tags across repositories.
	{sql: `
ALTER TABLE manifests ADD COLUMN total_size INTEGER NOT NULL DEFAULT 0;
UPDATE manifests SET total_size = size + COALESCE((
	SELECT SUM(l.size) FROM layers l
	WHERE l.repository = manifests.repository AND l.manifest_digest = manifests.digest AND l.size > 0), 0);
CREATE INDEX manifests_pushed ON manifests (pushed_at, repository, digest);
CREATE INDEX manifests_total_size ON manifests (total_size, repository, digest);
CREATE INDEX manifests_digest ON manifests (digest);
CREATE INDEX manifests_subject_any ON manifests (subject);

ALTER TABLE annotations ADD COLUMN sort_key TEXT NOT NULL DEFAULT '';
CREATE INDEX annotations_key_sort ON annotations (key, sort_key, repository, digest);

CREATE INDEX tags_tag ON tags (tag);
`, fn: backfillSortKeys},

	// 3: the catalog at scale. Annotations without a rowid, keyed by
	// (repository, digest, key): a filter checks an artifact's annotation
	// with one B-tree search instead of two, and the secondary indexes
	// carry the key, so reading which artifacts have key=value needs only
	// the index. Layers indexed in the order BlobUses lists them, so that a
	// layer many manifests share is read only up to the limit (it was read
	// whole and sorted: 35 ms at the 99th percentile for a layer of about
	// 600 manifests among a million).
	{sql: `
CREATE TABLE annotations_v3 (
	repository TEXT NOT NULL,
	digest     TEXT NOT NULL,
	key        TEXT NOT NULL,
	value      TEXT NOT NULL,
	sort_key   TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (repository, digest, key),
	FOREIGN KEY (repository, digest) REFERENCES manifests (repository, digest) ON DELETE CASCADE
) WITHOUT ROWID;
INSERT INTO annotations_v3 (repository, digest, key, value, sort_key)
	SELECT repository, digest, key, value, sort_key FROM annotations ORDER BY repository, digest, key;
DROP TABLE annotations;
ALTER TABLE annotations_v3 RENAME TO annotations;
CREATE INDEX annotations_key_value ON annotations (key, value);
CREATE INDEX annotations_key_sort ON annotations (key, sort_key);

DROP INDEX layers_digest;
CREATE INDEX layers_digest ON layers (digest, repository, manifest_digest, position);
`},

	// 4: lineage. An edge from each manifest to its subject and to each
	// artifact its derived-from annotation names (catalog.EdgesOf), gone
	// with the child; walked upward along the primary key, downward along
	// edges_parent. Parents need not be in the catalog (nor in this
	// registry). Backfilled from the manifests.
	{sql: `
CREATE TABLE edges (
	child_repository  TEXT NOT NULL,
	child_digest      TEXT NOT NULL,
	parent_registry   TEXT NOT NULL,
	parent_repository TEXT NOT NULL,
	parent_digest     TEXT NOT NULL,
	kind              TEXT NOT NULL,
	PRIMARY KEY (child_repository, child_digest, parent_registry, parent_repository, parent_digest, kind),
	FOREIGN KEY (child_repository, child_digest) REFERENCES manifests (repository, digest) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX edges_parent ON edges (parent_registry, parent_repository, parent_digest);
`, fn: backfillEdges},

	// 5: signatures. One verification record per payload layer of each
	// signature manifest, kept under the signed manifest and gone with it;
	// settings hold what the records were computed against (the trust
	// policy's fingerprint).
	{sql: `
CREATE TABLE signatures (
	repository       TEXT    NOT NULL,
	digest           TEXT    NOT NULL,
	signature_digest TEXT    NOT NULL,
	position         INTEGER NOT NULL,
	form             TEXT    NOT NULL,
	key_id           TEXT    NOT NULL DEFAULT '',
	verified         INTEGER NOT NULL,
	signed_at        INTEGER NOT NULL,
	error            TEXT    NOT NULL DEFAULT '',
	PRIMARY KEY (repository, digest, signature_digest, position),
	FOREIGN KEY (repository, digest) REFERENCES manifests (repository, digest) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE settings (
	key   TEXT NOT NULL PRIMARY KEY,
	value TEXT NOT NULL
);
`},

	// 6: API tokens: a hash of each secret, never the secret; times in
	// microseconds, 0 when unset.
	{sql: `
CREATE TABLE tokens (
	id           TEXT    NOT NULL PRIMARY KEY,
	user         TEXT    NOT NULL,
	scopes       TEXT    NOT NULL,
	hash         BLOB    NOT NULL UNIQUE,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL DEFAULT 0,
	last_used_at INTEGER NOT NULL DEFAULT 0,
	revoked_at   INTEGER NOT NULL DEFAULT 0
);
`},

	// 7: owners: the user who first pushed a manifest, gone with it.
	{sql: `
CREATE TABLE owners (
	repository TEXT NOT NULL,
	digest     TEXT NOT NULL,
	owner      TEXT NOT NULL,
	PRIMARY KEY (repository, digest),
	FOREIGN KEY (repository, digest) REFERENCES manifests (repository, digest) ON DELETE CASCADE
) WITHOUT ROWID;
`},

	// 8: visibility, per artifact ('' inherits the repository's).
	{sql: `
ALTER TABLE owners ADD COLUMN visibility TEXT NOT NULL DEFAULT '';
`},

	// 9: the change log. Every write to what the catalog API filters on
	// (a manifest, its tags, owner, visibility or signatures) leaves the
	// manifest's key here, whichever process wrote it, so that an
	// in-memory index (InMemoryIndex) can replay what changed since it
	// last looked. The index deletes what it has replayed.
	{sql: `
CREATE TABLE changes (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	repository TEXT NOT NULL,
	digest     TEXT NOT NULL
);
CREATE TRIGGER manifests_insert AFTER INSERT ON manifests BEGIN
	INSERT INTO changes (repository, digest) VALUES (NEW.repository, NEW.digest); END;
CREATE TRIGGER manifests_update AFTER UPDATE ON manifests BEGIN
	INSERT INTO changes (repository, digest) VALUES (NEW.repository, NEW.digest); END;
CREATE TRIGGER manifests_delete AFTER DELETE ON manifests BEGIN
	INSERT INTO changes (repository, digest) VALUES (OLD.repository, OLD.digest); END;
CREATE TRIGGER tags_insert AFTER INSERT ON tags BEGIN
	INSERT INTO changes (repository, digest) VALUES (NEW.repository, NEW.digest); END;
CREATE TRIGGER tags_update AFTER UPDATE ON tags BEGIN
	INSERT INTO changes (repository, digest) VALUES (OLD.repository, OLD.digest), (NEW.repository, NEW.digest); END;
CREATE TRIGGER tags_delete AFTER DELETE ON tags BEGIN
	INSERT INTO changes (repository, digest) VALUES (OLD.repository, OLD.digest); END;
CREATE TRIGGER owners_insert AFTER INSERT ON owners BEGIN
	INSERT INTO changes (repository, digest) VALUES (NEW.repository, NEW.digest); END;
CREATE TRIGGER owners_update AFTER UPDATE ON owners BEGIN
	INSERT INTO changes (repository, digest) VALUES (NEW.repository, NEW.digest); END;
CREATE TRIGGER owners_delete AFTER DELETE ON owners BEGIN
	INSERT INTO changes (repository, digest) VALUES (OLD.repository, OLD.digest); END;
CREATE TRIGGER signatures_insert AFTER INSERT ON signatures BEGIN
	INSERT INTO changes (repository, digest) VALUES (NEW.repository, NEW.digest); END;
CREATE TRIGGER signatures_update AFTER UPDATE ON signatures BEGIN
	INSERT INTO changes (repository, digest) VALUES (NEW.repository, NEW.digest); END;
CREATE TRIGGER signatures_delete AFTER DELETE ON signatures BEGIN
	INSERT INTO changes (repository, digest) VALUES (OLD.repository, OLD.digest); END;
`},
}

// backfillEdges records the edges of every manifest with a subject or a
// derived-from annotation.
func backfillEdges(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT repository, digest, subject, annotations FROM manifests
WHERE subject <> '' OR annotations LIKE '%"dev.cairn.lineage.derived-from"%'`)
	if err != nil {
		return err
	}
	var ms []catalog.Manifest
	for rows.Next() {
		var m catalog.Manifest
		var annots string
		if err := rows.Scan(&m.Repository, &m.Digest, &m.Subject, &annots); err != nil {
			rows.Close()
			return err
		}
		if m.Annotations, err = sqlquery.DecodeAnnotations(annots); err != nil {
			rows.Close()
			return err
		}
		ms = append(ms, m)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for _, m := range ms {
		for _, st := range sqlwrite.Edges(sqlquery.SQLite, m) {
			if _, err := tx.ExecContext(ctx, st.SQL, st.Args...); err != nil {
				return err
			}
		}
	}
	return nil
}

// backfillBatch is how many annotations backfillSortKeys reads at a time.
const backfillBatch = 1000

// backfillSortKeys sets the sort_key of every annotation from its value,
// in batches along the rowid.
func backfillSortKeys(ctx context.Context, tx *sql.Tx) error {
	type row struct {
		id    int64
		value string
	}
	for last := int64(-1 << 63); ; {
		rows, err := tx.QueryContext(ctx, `SELECT rowid, value FROM annotations WHERE rowid > ? ORDER BY rowid LIMIT ?`, last, backfillBatch)
		if err != nil {
			return err
		}
		var batch []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.value); err != nil {
				rows.Close()
				return err
			}
			batch = append(batch, r)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for _, r := range batch {
			if _, err := tx.ExecContext(ctx, `UPDATE annotations SET sort_key = ? WHERE rowid = ?`, annotations.SortKey(r.value), r.id); err != nil {
				return err
			}
		}
		if len(batch) < backfillBatch {
			return nil
		}
		last = batch[len(batch)-1].id
	}
}

// migrate creates the schema or brings it up to date, in one transaction.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op after Commit

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return err
	}
	var version int
	err = tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this cairn (%d)", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i].sql); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if fn := migrations[i].fn; fn != nil {
			if err := fn(ctx, tx); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, len(migrations)); err != nil {
		return err
	}
	return tx.Commit()
}
