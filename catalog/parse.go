package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/cairn-dev/cairn/annotations"
)

// ErrInvalidManifest is returned (wrapped) by ParseManifest for bytes that
// are not a manifest cairn can index.
var ErrInvalidManifest = errors.New("invalid manifest")

// manifestJSON is the union of the fields of an image manifest and an image
// index that the catalog records (Docker schema 2 manifests and lists share
// them).
type manifestJSON struct {
	SchemaVersion int                  `json:"schemaVersion"`
	MediaType     string               `json:"mediaType"`
	ArtifactType  string               `json:"artifactType"`
	Config        *ocispec.Descriptor  `json:"config"`
	Layers        []ocispec.Descriptor `json:"layers"`
	Manifests     []ocispec.Descriptor `json:"manifests"`
	Subject       *ocispec.Descriptor  `json:"subject"`
	Annotations   map[string]string    `json:"annotations"`
}

// ParseManifest turns a manifest's bytes into a catalog entry. mediaType is
// the Content-Type it was pushed with, used when the body names none.
func ParseManifest(repo string, dgst digest.Digest, mediaType string, body []byte, pushedAt time.Time) (Manifest, error) {
	var mj manifestJSON
	if err := json.Unmarshal(body, &mj); err != nil {
		return Manifest{}, fmt.Errorf("%w: %v", ErrInvalidManifest, err)
	}
	if mj.MediaType != "" {
		mediaType = mj.MediaType
	}
	m := Manifest{
		Repository:   repo,
		Digest:       dgst,
		MediaType:    mediaType,
		ArtifactType: mj.ArtifactType,
		Annotations:  mj.Annotations,
		Size:         int64(len(body)),
		PushedAt:     pushedAt.UTC(),
	}
	if mj.Subject != nil {
		m.Subject = mj.Subject.Digest
	}
	if mj.Config != nil {
		if m.ArtifactType == "" {
			m.ArtifactType = mj.Config.MediaType
		}
		m.Layers = append(m.Layers, layerOf("config", *mj.Config))
	}
	for _, d := range mj.Layers {
		m.Layers = append(m.Layers, layerOf("layer", d))
	}
	for _, d := range mj.Manifests {
		m.Layers = append(m.Layers, layerOf("manifest", d))
	}
	m.TotalSize = m.Size
	for _, l := range m.Layers {
		if l.Size > 0 {
			m.TotalSize += l.Size
		}
	}
	return m, nil
}

func layerOf(kind string, d ocispec.Descriptor) Layer {
	return Layer{
		Kind:         kind,
		Digest:       d.Digest,
		MediaType:    d.MediaType,
		Size:         d.Size,
		ArtifactType: d.ArtifactType,
		Title:        d.Annotations[annotations.Title],
		Annotations:  d.Annotations,
	}
}
