package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationLock is the key of the advisory lock that serialises migrations,
// so that stores opening at once do not race to create the tables.
const migrationLock = 0x636169726e // "cairn"

// migrations are the schema changes, in order: migrations[i] brings the
// schema from version i to version i+1. Append new ones; never edit one that
// has shipped.
var migrations = []string{
	// 1: the initial schema. Annotations are JSON objects as text.
	`
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
`,
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
			if _, err := tx.Exec(ctx, migrations[i]); err != nil {
				return fmt.Errorf("schema %s: migration %d: %w", *schema, i+1, err)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE schema_version SET version = $1`, len(migrations)); err != nil {
			return fmt.Errorf("schema %s: %w", *schema, err)
		}
		return nil
	})
}
