// Package storetest is the conformance suite of catalog.Store: every
// implementation runs Run from its own tests, so that the SQLite and
// PostgreSQL stores behave the same way.
package storetest

import (
	"testing"

	"github.com/cairn-dev/cairn/catalog"
)

// test is one case of the suite. It gets a fresh, empty store.
type test struct {
	name string
	fn   func(t *testing.T, s catalog.Store)
}

// tests is the suite, in the order it runs.
var tests = []test{
	{"ManifestRoundtrip", testManifestRoundtrip},
	{"ManifestMinimal", testManifestMinimal},
	{"ManifestNotFound", testManifestNotFound},
	{"ManifestsBatch", testManifestsBatch},
	{"IndexPushReplaces", testIndexPushReplaces},
	{"IndexPushZeroPushedAt", testIndexPushZeroPushedAt},
	{"SameDigestTwoRepositories", testSameDigestTwoRepositories},
	{"TagAndResolve", testTagAndResolve},
	{"TagsSorted", testTagsSorted},
	{"DeleteTag", testDeleteTag},
	{"DeleteManifest", testDeleteManifest},
	{"Referrers", testReferrers},
	{"ReferrersEmpty", testReferrersEmpty},
	{"ReferrersOfDeletedSubject", testReferrersOfDeletedSubject},
	{"Repositories", testRepositories},
	{"ReplaceRepository", testReplaceRepository},
	{"ReplaceRepositoryNew", testReplaceRepositoryNew},
	{"ReplaceRepositoryEmpty", testReplaceRepositoryEmpty},
	{"ReplaceRepositoryBadTag", testReplaceRepositoryBadTag},
	{"Pending", testPending},
	{"PendingIDsNotReused", testPendingIDsNotReused},
	{"IndexPush", testIndexPush},
	{"Stats", testStats},
	{"Ping", testPing},
	{"CanceledContext", testCanceledContext},
	{"SQLMetacharacters", testSQLMetacharacters},
	{"Concurrent", testConcurrent},
	{"ArtifactsQueryFields", testArtifactsQueryFields},
	{"ArtifactsAnnotationFilters", testArtifactsAnnotationFilters},
	{"ArtifactsSortExplicit", testArtifactsSortExplicit},
	{"ArtifactsPagination", testArtifactsPagination},
	{"ArtifactsPaginationWithInserts", testArtifactsPaginationWithInserts},
	{"ArtifactsComplete", testArtifactsComplete},
	{"ArtifactsLimits", testArtifactsLimits},
	{"ArtifactsBadInput", testArtifactsBadInput},
	{"QueryInjection", testQueryInjection},
	{"RepositorySummaries", testRepositorySummaries},
	{"AnnotationKeys", testAnnotationKeys},
	{"AnnotationValues", testAnnotationValues},
	{"BlobUses", testBlobUses},
	{"Lineage", testLineage},
	{"LineageDanglingAndForeign", testLineageDanglingAndForeign},
	{"LineageCycles", testLineageCycles},
	{"LineageRandom", testLineageRandom},
	{"Signatures", testSignatures},
	{"Tokens", testTokens},
	{"Owners", testOwners},
	{"Visibility", testVisibility},
}

// Run runs the suite against the store that open returns. open is called
// once per subtest and must return a new, empty store; Run closes it at the
// end of the subtest (open may register t.Cleanup functions to remove what
// the store left behind, such as files or database schemas).
func Run(t *testing.T, open func(t *testing.T) catalog.Store) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			defer func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			tc.fn(t, s)
		})
	}
}
