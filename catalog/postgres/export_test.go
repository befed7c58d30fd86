package postgres

import (
	"context"

	"github.com/cairn-dev/cairn/catalog/sqlquery"
)

// MigrationSQL returns the SQL of migration v (1-based), so that tests can
// build databases of older schemas.
func MigrationSQL(v int) string { return migrations[v-1].sql }

// BackfillBatch is how many annotations a migration backfills at a time.
const BackfillBatch = backfillBatch

// ArtifactRows runs statements of sqlquery.ArtifactsPlanned on s.
func ArtifactRows(ctx context.Context, s *Store) sqlquery.ArtifactRows {
	return artifactRows(ctx, s.pool)
}

// Migrations is the schema version a migrated database has.
var Migrations = len(migrations)
