package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/sqlquery"
	"github.com/cairn-dev/cairn/catalog/sqlwrite"
)

// migrationLock is the key of the advisory lock that serialises migrations,
// so that stores opening at once do not race to create the tables.
const migrationLock = 0x636169726e // "cairn"

// migration is one schema change: SQL, then Go code (if any) that rewrites
// rows, in the migration's transaction.
type migration struct {
	sql string
	fn  func(ctx context.Context, tx pgx.Tx) error
}

// migrations are the schema changes, in order: migrations[i] brings the
// schema from version i to version i+1. Append new ones; never edit one that
// has shipped.
var migrations = []migration{
	// 1: the initial schema. Annotations are JSON objects as text.
	{sql: `
CREATE TABLE manifests (
	repository    TEXT COLLATE "C" NOT NULL,
	digest        TEXT COLLATE "C" NOT NULL,
	media_type    TEXT             NOT NULL,
	artifact_type TEXT             NOT NULL DEFAULT '',
	annotations   TEXT             NOT NULL DEFAULT '{}',
	subject       TEXT COLLATE "C" NOT NULL DEFAULT '',
	size          BIGINT           NOT NULL,
	pushed_at     TIMESTAMPTZ      NOT NULL,
	PRIMARY KEY (repository, digest)
);
CREATE INDEX manifests_subject ON manifests (repository, subject);

CREATE TABLE tags (
	repository TEXT COLLATE "C" NOT NULL,
	tag        TEXT COLLATE "C" NOT NULL,
	digest     TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (repository, tag),
	FOREIGN KEY (repository, digest) REFERENCES manifests (repository, digest) ON DELETE CASCADE
);
CREATE INDEX tags_digest ON tags (repository, digest);

CREATE TABLE layers (
	repository      TEXT COLLATE "C" NOT NULL,
	manifest_digest TEXT COLLATE "C" NOT NULL,
	position        INTEGER          NOT NULL,
	kind            TEXT             NOT NULL,
	digest          TEXT COLLATE "C" NOT NULL,
	media_type      TEXT             NOT NULL,
	size            BIGINT           NOT NULL,
	artifact_type   TEXT             NOT NULL DEFAULT '',
	title           TEXT             NOT NULL DEFAULT '',
	annotations     TEXT             NOT NULL DEFAULT '{}',
	PRIMARY KEY (repository, manifest_digest, position),
	FOREIGN KEY (repository, manifest_digest) REFERENCES manifests (repository, digest) ON DELETE CASCADE
);
CREATE INDEX layers_digest ON layers (digest);

CREATE TABLE annotations (
	repository TEXT COLLATE "C" NOT NULL,
	digest     TEXT COLLATE "C" NOT NULL,
	key        TEXT COLLATE "C" NOT NULL,
	value      TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (repository, digest, key),
	FOREIGN KEY (repository, digest) REFERENCES manifests (repository, digest) ON DELETE CASCADE
);
CREATE INDEX annotations_key_value ON annotations (key, value);

CREATE TABLE pending (
	id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	repository TEXT COLLATE "C" NOT NULL,
	created_at TIMESTAMPTZ      NOT NULL
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
ALTER TABLE manifests ADD COLUMN total_size BIGINT NOT NULL DEFAULT 0;
UPDATE manifests m SET total_size = m.size + COALESCE((
	SELECT SUM(l.size) FROM layers l
	WHERE l.repository = m.repository AND l.manifest_digest = m.digest AND l.size > 0), 0);
CREATE INDEX manifests_pushed ON manifests (pushed_at, repository, digest);
CREATE INDEX manifests_total_size ON manifests (total_size, repository, digest);
CREATE INDEX manifests_digest ON manifests (digest);
CREATE INDEX manifests_subject_any ON manifests (subject);

ALTER TABLE annotations ADD COLUMN sort_key TEXT COLLATE "C" NOT NULL DEFAULT '';
CREATE INDEX annotations_key_sort ON annotations (key, sort_key, repository, digest);

CREATE INDEX tags_tag ON tags (tag);
`, fn: backfillSortKeys},

	// 3: the catalog at scale. Indexes that answer a filter's check of one
	// artifact, and the artifacts that match a filter, from the index alone
	// (an index-only scan, where the primary key and (key, value) sent
	// every match to the table: seconds for a three-filter query at
	// 100,000 artifacts); layers in the order BlobUses lists them, so that
	// a layer many manifests share is read only up to the limit.
	{sql: `
CREATE UNIQUE INDEX annotations_check ON annotations (repository, digest, key) INCLUDE (value, sort_key);
DROP INDEX annotations_key_value;
CREATE INDEX annotations_key_value ON annotations (key, value, repository, digest);
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
	child_repository  TEXT COLLATE "C" NOT NULL,
	child_digest      TEXT COLLATE "C" NOT NULL,
	parent_registry   TEXT COLLATE "C" NOT NULL,
	parent_repository TEXT COLLATE "C" NOT NULL,
	parent_digest     TEXT COLLATE "C" NOT NULL,
	kind              TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (child_repository, child_digest, parent_registry, parent_repository, parent_digest, kind),
	FOREIGN KEY (child_repository, child_digest) REFERENCES manifests (repository, digest) ON DELETE CASCADE
);
CREATE INDEX edges_parent ON edges (parent_registry, parent_repository, parent_digest) INCLUDE (child_repository, child_digest, kind);
`, fn: backfillEdges},

	// 5: signatures. One verification record per payload layer of each
	// signature manifest, kept under the signed manifest and gone with it;
	// settings hold what the records were computed against (the trust
	// policy's fingerprint).
	{sql: `
CREATE TABLE signatures (
	repository       TEXT COLLATE "C" NOT NULL,
	digest           TEXT COLLATE "C" NOT NULL,
	signature_digest TEXT COLLATE "C" NOT NULL,
	position         INTEGER NOT NULL,
	form             TEXT NOT NULL,
	key_id           TEXT NOT NULL DEFAULT '',
	verified         BOOLEAN NOT NULL,
	signed_at        TIMESTAMPTZ NOT NULL,
	error            TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (repository, digest, signature_digest, position),
	FOREIGN KEY (repository, digest) REFERENCES manifests (repository, digest) ON DELETE CASCADE
);

CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
`},

	// 6: API tokens: a hash of each secret, never the secret.
	{sql: `
CREATE TABLE tokens (
	id           TEXT PRIMARY KEY,
	"user"       TEXT NOT NULL,
	scopes       TEXT NOT NULL,
	hash         BYTEA NOT NULL UNIQUE,
	created_at   TIMESTAMPTZ NOT NULL,
	expires_at   TIMESTAMPTZ,
	last_used_at TIMESTAMPTZ,
	revoked_at   TIMESTAMPTZ
);
`},

	// 7: owners: the user who first pushed a manifest, gone with it.
	{sql: `
CREATE TABLE owners (
	repository TEXT COLLATE "C" NOT NULL,
	digest     TEXT COLLATE "C" NOT NULL,
	owner      TEXT NOT NULL,
	PRIMARY KEY (repository, digest),
	FOREIGN KEY (repository, digest) REFERENCES manifests (repository, digest) ON DELETE CASCADE
);
`},

	// 8: visibility, per artifact ('' inherits the repository's).
	{sql: `
ALTER TABLE owners ADD COLUMN visibility TEXT NOT NULL DEFAULT '';
`},
}

// backfillEdges records the edges of every manifest with a subject or a
// derived-from annotation.
func backfillEdges(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT repository, digest, subject, annotations FROM manifests
WHERE subject <> '' OR annotations LIKE '%"dev.cairn.lineage.derived-from"%'`)
	if err != nil {
		return err
	}
	ms, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (catalog.Manifest, error) {
		var m catalog.Manifest
		var annots string
		if err := row.Scan(&m.Repository, &m.Digest, &m.Subject, &annots); err != nil {
			return m, err
		}
		m.Annotations, err = sqlquery.DecodeAnnotations(annots)
		return m, err
	})
	if err != nil {
		return err
	}
	var sts []sqlquery.Statement
	for _, m := range ms {
		sts = append(sts, sqlwrite.Edges(sqlquery.Postgres, m)...)
	}
	return conn{tx}.ExecAll(ctx, sts)
}

// backfillBatch is how many annotations backfillSortKeys reads at a time.
const backfillBatch = 1000

// backfillSortKeys sets the sort_key of every annotation from its value,
// in batches along the primary key.
func backfillSortKeys(ctx context.Context, tx pgx.Tx) error {
	type row struct{ repo, dgst, key, value string }
	var last *row
	for {
		var rows pgx.Rows
		var err error
		if last == nil {
			rows, err = tx.Query(ctx, `
SELECT repository, digest, key, value FROM annotations
ORDER BY repository, digest, key LIMIT $1`, backfillBatch)
		} else {
			rows, err = tx.Query(ctx, `
SELECT repository, digest, key, value FROM annotations
WHERE (repository, digest, key) > ($1, $2, $3)
ORDER BY repository, digest, key LIMIT $4`, last.repo, last.dgst, last.key, backfillBatch)
		}
		if err != nil {
			return err
		}
		batch, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			err := r.Scan(&x.repo, &x.dgst, &x.key, &x.value)
			return x, err
		})
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		var updates pgx.Batch
		for _, r := range batch {
			updates.Queue(`UPDATE annotations SET sort_key = $1 WHERE repository = $2 AND digest = $3 AND key = $4`,
				annotations.SortKey(r.value), r.repo, r.dgst, r.key)
		}
		if err := tx.SendBatch(ctx, &updates).Close(); err != nil {
			return err
		}
		if len(batch) < backfillBatch {
			return nil
		}
		last = &batch[len(batch)-1]
	}
}

// migrate creates the schema or brings it up to date, in one transaction.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		var schema *string
		if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			return fmt.Errorf("current schema: %w", err)
		}
		if schema == nil {
			return errors.New("no schema of the search_path exists")
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
			return fmt.Errorf("schema %s: %w", *schema, err)
		}
		var version int
		err := tx.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&version)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
				return fmt.Errorf("schema %s: %w", *schema, err)
			}
		case err != nil:
			return fmt.Errorf("schema %s: %w", *schema, err)
		}
		if version > len(migrations) {
			return fmt.Errorf("schema %s: version %d is newer than this cairn (%d)", *schema, version, len(migrations))
		}
		for i := version; i < len(migrations); i++ {
			if _, err := tx.Exec(ctx, migrations[i].sql); err != nil {
				return fmt.Errorf("schema %s: migration %d: %w", *schema, i+1, err)
			}
			if fn := migrations[i].fn; fn != nil {
				if err := fn(ctx, tx); err != nil {
					return fmt.Errorf("schema %s: migration %d: %w", *schema, i+1, err)
				}
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE schema_version SET version = $1`, len(migrations)); err != nil {
			return fmt.Errorf("schema %s: %w", *schema, err)
		}
		return nil
	})
}
