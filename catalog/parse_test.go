package catalog

import (
	"errors"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

func TestParseManifest(t *testing.T) {
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.FixedZone("x", 3600))
	sub := digest.FromString("subject")
	cfg := digest.FromString("cfg")
	lay := digest.FromString("layer")
	tests := []struct {
		name      string
		mediaType string
		body      string
		check     func(t *testing.T, m Manifest)
		wantErr   bool
	}{
		{
			name: "artifact with subject and annotations",
			body: `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.cairn.embeddings.v1",
				"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"` + cfg.String() + `","size":2},
				"layers":[{"mediaType":"application/json","digest":"` + lay.String() + `","size":5,"annotations":{"org.opencontainers.image.title":"emb.json"}}],
				"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + sub.String() + `","size":9},
				"annotations":{"org.example.year":"2024"}}`,
			check: func(t *testing.T, m Manifest) {
				if m.ArtifactType != "application/vnd.cairn.embeddings.v1" || m.Subject != sub || m.Annotations["org.example.year"] != "2024" {
					t.Fatalf("got %+v", m)
				}
				if len(m.Layers) != 2 || m.Layers[0].Kind != "config" || m.Layers[1].Kind != "layer" || m.Layers[1].Title != "emb.json" || m.Layers[1].Size != 5 {
					t.Fatalf("layers %+v", m.Layers)
				}
				if m.MediaType != "application/vnd.oci.image.manifest.v1+json" || !m.PushedAt.Equal(at) || m.PushedAt.Location() != time.UTC {
					t.Fatalf("media type %q, pushed %v", m.MediaType, m.PushedAt)
				}
			},
		},
		{
			name:      "artifactType falls back to config media type; media type from Content-Type",
			mediaType: "application/vnd.docker.distribution.manifest.v2+json",
			body:      `{"schemaVersion":2,"config":{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":"` + cfg.String() + `","size":2},"layers":[]}`,
			check: func(t *testing.T, m Manifest) {
				if m.ArtifactType != "application/vnd.cncf.helm.config.v1+json" || m.MediaType != "application/vnd.docker.distribution.manifest.v2+json" {
					t.Fatalf("got %+v", m)
				}
			},
		},
		{
			name: "index children",
			body: `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + lay.String() + `","size":7,"artifactType":"x/y"}]}`,
			check: func(t *testing.T, m Manifest) {
				if m.ArtifactType != "" || len(m.Layers) != 1 || m.Layers[0].Kind != "manifest" || m.Layers[0].ArtifactType != "x/y" {
					t.Fatalf("got %+v", m)
				}
			},
		},
		{name: "not JSON", body: `nope`, wantErr: true},
		{name: "JSON array", body: `[1]`, wantErr: true},
		{name: "wrong field type", body: `{"layers":"x"}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseManifest("r", digest.FromString(tt.body), tt.mediaType, []byte(tt.body), at)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidManifest) {
					t.Fatalf("err = %v, want ErrInvalidManifest", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Size != int64(len(tt.body)) || m.Repository != "r" {
				t.Fatalf("size %d repo %q", m.Size, m.Repository)
			}
			tt.check(t, m)
		})
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"sha256:` + "0000000000000000000000000000000000000000000000000000000000000000" + `","size":1}}`))
	f.Add([]byte(`{"manifests":[{}],"subject":{}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := ParseManifest("r", digest.FromBytes(body), "", body, time.Now())
		if err != nil {
			if !errors.Is(err, ErrInvalidManifest) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if m.Size != int64(len(body)) {
			t.Fatalf("size %d != %d", m.Size, len(body))
		}
	})
}
