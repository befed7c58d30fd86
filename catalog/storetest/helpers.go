package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"
)

// Media types used by the fixtures.
const (
	mtImage    = "application/vnd.oci.image.manifest.v1+json"
	mtIndex    = "application/vnd.oci.image.index.v1+json"
	mtConfig   = "application/vnd.oci.image.config.v1+json"
	mtLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
	atSig      = "application/vnd.dev.cosign.artifact.sig.v1+json"
	atSBOM     = "application/spdx+json"
	annCreated = "org.opencontainers.image.created"
)

// base is the push time of the fixtures: not UTC and with nanoseconds, so
// that the stores must normalise it.
var base = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("CEST", 2*60*60))

// at returns base plus n minutes.
func at(n int) time.Time { return base.Add(time.Duration(n) * time.Minute) }

// dg returns the digest of s, a stand-in for the digest of some content.
func dg(s string) digest.Digest { return digest.FromString(s) }

// image returns an image manifest in repo whose content is named by name,
// with every field set.
func image(repo, name string, pushed time.Time) catalog.Manifest {
	return catalog.Manifest{
		Repository:   repo,
		Digest:       dg("manifest " + name),
		MediaType:    mtImage,
		ArtifactType: mtConfig,
		Annotations: map[string]string{
			annCreated:                      "2024-05-06T07:08:09Z",
			"org.opencontainers.image.name": name,
		},
		Layers: []catalog.Layer{
			{Kind: "config", Digest: dg("config " + name), MediaType: mtConfig, Size: 1234},
			{
				Kind:      "layer",
				Digest:    dg("layer 1 " + name),
				MediaType: mtLayer,
				Size:      1 << 40,
				Title:     "rootfs.tar.gz",
				Annotations: map[string]string{
					"org.opencontainers.image.title": "rootfs.tar.gz",
					"com.example.layer":              "first",
				},
			},
			{Kind: "layer", Digest: dg("layer 2 " + name), MediaType: mtLayer, Size: 0},
		},
		Size:      527,
		TotalSize: 527 + 1234 + 1<<40,
		PushedAt:  pushed,
	}
}

// referrer returns an artifact manifest in repo that refers to subject.
func referrer(repo, name string, subject digest.Digest, artifactType string, pushed time.Time) catalog.Manifest {
	return catalog.Manifest{
		Repository:   repo,
		Digest:       dg("referrer " + name),
		MediaType:    mtImage,
		ArtifactType: artifactType,
		Annotations:  map[string]string{annCreated: name},
		Layers: []catalog.Layer{
			{Kind: "config", Digest: dg("empty"), MediaType: "application/vnd.oci.empty.v1+json", Size: 2},
			{Kind: "layer", Digest: dg("blob " + name), MediaType: artifactType, Size: 99, ArtifactType: artifactType},
		},
		Subject:   subject,
		Size:      400,
		TotalSize: 400 + 2 + 99,
		PushedAt:  pushed,
	}
}

// put stores every manifest, untagged, or fails the test.
func put(t *testing.T, s catalog.Store, ms ...catalog.Manifest) {
	t.Helper()
	for _, m := range ms {
		if err := s.IndexPush(t.Context(), m, "", 0); err != nil {
			t.Fatalf("IndexPush(%s@%s): %v", m.Repository, m.Digest, err)
		}
	}
}

// tag points name at m, pushing m again by that tag (as a manifest PUT by
// tag does), or fails the test.
func tag(t *testing.T, s catalog.Store, m catalog.Manifest, name string) {
	t.Helper()
	if err := s.IndexPush(t.Context(), m, name, 0); err != nil {
		t.Fatalf("IndexPush(%s:%s → %s): %v", m.Repository, name, m.Digest, err)
	}
}

// get reads a manifest or fails the test.
func get(t *testing.T, s catalog.Store, repo string, d digest.Digest) catalog.Manifest {
	t.Helper()
	m, err := s.Manifest(t.Context(), repo, d)
	if err != nil {
		t.Fatalf("Manifest(%s@%s): %v", repo, d, err)
	}
	return m
}

// resolve resolves a tag or fails the test.
func resolve(t *testing.T, s catalog.Store, repo, tag string) digest.Digest {
	t.Helper()
	d, err := s.ResolveTag(t.Context(), repo, tag)
	if err != nil {
		t.Fatalf("ResolveTag(%s:%s): %v", repo, tag, err)
	}
	return d
}

// wantNotFound fails the test unless err wraps catalog.ErrNotFound.
func wantNotFound(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("%s: got error %v, want one wrapping catalog.ErrNotFound", what, err)
	}
}

// wantNoManifest fails the test unless the manifest is absent.
func wantNoManifest(t *testing.T, s catalog.Store, repo string, d digest.Digest) {
	t.Helper()
	_, err := s.Manifest(t.Context(), repo, d)
	wantNotFound(t, err, fmt.Sprintf("Manifest(%s@%s)", repo, d))
}

// wantNoTag fails the test unless the tag is absent.
func wantNoTag(t *testing.T, s catalog.Store, repo, tag string) {
	t.Helper()
	_, err := s.ResolveTag(t.Context(), repo, tag)
	wantNotFound(t, err, fmt.Sprintf("ResolveTag(%s:%s)", repo, tag))
}

// wantTag fails the test unless tag resolves to want.
func wantTag(t *testing.T, s catalog.Store, repo, tag string, want digest.Digest) {
	t.Helper()
	if got := resolve(t, s, repo, tag); got != want {
		t.Errorf("ResolveTag(%s:%s) = %s, want %s", repo, tag, got, want)
	}
}

// withTags returns m with its Tags set, as a read returns it.
func withTags(m catalog.Manifest, tags ...string) catalog.Manifest {
	m.Tags = append([]string(nil), tags...)
	sort.Strings(m.Tags)
	return m
}

// withPushedAt returns m with its PushedAt set.
func withPushedAt(m catalog.Manifest, pushed time.Time) catalog.Manifest {
	m.PushedAt = pushed
	return m
}

// normalize makes nil and empty maps and slices equal and truncates the push
// time to microseconds, the precision both stores keep.
func normalize(m catalog.Manifest) catalog.Manifest {
	if len(m.Annotations) == 0 {
		m.Annotations = nil
	}
	if len(m.Tags) == 0 {
		m.Tags = nil
	}
	if len(m.Signatures) == 0 {
		m.Signatures = nil
	} else {
		ss := make([]catalog.Signature, len(m.Signatures))
		copy(ss, m.Signatures)
		for i := range ss {
			ss[i].SignedAt = ss[i].SignedAt.Truncate(time.Microsecond).UTC()
		}
		m.Signatures = ss
	}
	if len(m.Layers) == 0 {
		m.Layers = nil
	} else {
		ls := make([]catalog.Layer, len(m.Layers))
		copy(ls, m.Layers)
		for i := range ls {
			if len(ls[i].Annotations) == 0 {
				ls[i].Annotations = nil
			}
		}
		m.Layers = ls
	}
	m.PushedAt = m.PushedAt.Truncate(time.Microsecond).UTC()
	return m
}

// assertManifest fails the test unless got equals want (normalised) and got
// holds its time in UTC and its tags sorted.
func assertManifest(t *testing.T, got, want catalog.Manifest) {
	t.Helper()
	if got.PushedAt.Location() != time.UTC {
		t.Errorf("%s@%s: PushedAt %v is not in UTC", got.Repository, got.Digest, got.PushedAt)
	}
	if !sort.StringsAreSorted(got.Tags) {
		t.Errorf("%s@%s: tags %q not sorted", got.Repository, got.Digest, got.Tags)
	}
	g, w := normalize(got), normalize(want)
	if !g.PushedAt.Equal(w.PushedAt) {
		t.Errorf("%s@%s: PushedAt = %v, want %v", want.Repository, want.Digest, g.PushedAt, w.PushedAt)
	}
	g.PushedAt, w.PushedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s@%s:\n got %+v\nwant %+v", want.Repository, want.Digest, g, w)
	}
}

// assertManifests compares two lists with assertManifest, in order.
func assertManifests(t *testing.T, what string, got, want []catalog.Manifest) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d manifests %v, want %d %v", what, len(got), digests(got), len(want), digests(want))
		return
	}
	for i := range got {
		assertManifest(t, got[i], want[i])
	}
}

// digests lists the digests of ms, for messages.
func digests(ms []catalog.Manifest) []digest.Digest {
	ds := make([]digest.Digest, len(ms))
	for i, m := range ms {
		ds[i] = m.Digest
	}
	return ds
}

// assertStrings fails the test unless got equals want; an empty want also
// requires a non-nil got (lists are encoded as [] rather than null).
func assertStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil slice, want non-nil", what)
	}
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

// assertStats fails the test unless the store's Stats equal want.
func assertStats(t *testing.T, s catalog.Store, want catalog.Stats) {
	t.Helper()
	got, err := s.Stats(t.Context())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

// repositories lists the store's repositories or fails the test.
func repositories(t *testing.T, s catalog.Store) []string {
	t.Helper()
	rs, err := s.Repositories(t.Context())
	if err != nil {
		t.Fatalf("Repositories: %v", err)
	}
	return rs
}

// referrers lists referrers or fails the test.
func referrers(t *testing.T, s catalog.Store, repo string, subject digest.Digest, artifactType string) []catalog.Manifest {
	t.Helper()
	ms, err := s.Referrers(t.Context(), repo, subject, artifactType)
	if err != nil {
		t.Fatalf("Referrers(%s, %s, %q): %v", repo, subject, artifactType, err)
	}
	if ms == nil {
		t.Errorf("Referrers(%s, %s, %q) = nil, want a non-nil slice", repo, subject, artifactType)
	}
	return ms
}

// pending lists the pending repositories or fails the test.
func pending(t *testing.T, s catalog.Store) []string {
	t.Helper()
	rs, err := s.Pending(t.Context())
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	return rs
}
