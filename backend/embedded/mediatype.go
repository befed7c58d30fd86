package embedded

import (
	"encoding/json"

	"github.com/opencontainers/go-digest"
)

type digestType = digest.Digest

// sniffMediaType reads a stored manifest's mediaType field; storage keeps
// no Content-Type of its own.
func sniffMediaType(payload []byte) string {
	var v struct {
		MediaType string `json:"mediaType"`
	}
	_ = json.Unmarshal(payload, &v)
	return v.MediaType
}
