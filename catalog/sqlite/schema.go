package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// migrations are the schema changes, in order: migrations[i] brings the
// schema from version i to version i+1. Append new ones; never edit one that
// has shipped.
var migrations = []string{
	// 1: the initial schema. Times are microseconds since the Unix epoch,
	// annotations are JSON objects as text.
	`
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
`,
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
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, len(migrations)); err != nil {
		return err
	}
	return tx.Commit()
}
