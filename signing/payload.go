package signing

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// Claim is what a signature payload says: which manifest was signed, under
// which name, with which annotations.
type Claim struct {
	// Reference is the repository the signer named (docker-reference).
	Reference   string
	Digest      digest.Digest
	Annotations map[string]any
}

// NewPayload returns cosign's simple signing payload for the manifest dgst
// in repository reference (registry/name).
func NewPayload(reference string, dgst digest.Digest, annotations map[string]any) ([]byte, error) {
	d, err := name.NewDigest(reference+"@"+dgst.String(), name.WeakValidation)
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	return json.Marshal(payload.Cosign{Image: d, Annotations: annotations})
}

// ParsePayload reads a simple signing payload.
func ParsePayload(b []byte) (Claim, error) {
	var p payload.SimpleContainerImage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&p); err != nil {
		return Claim{}, fmt.Errorf("payload is not JSON: %w", err)
	}
	if p.Critical.Type != payload.CosignSignatureType {
		return Claim{}, fmt.Errorf("payload type is %q, not %q", p.Critical.Type, payload.CosignSignatureType)
	}
	d, err := digest.Parse(p.Critical.Image.DockerManifestDigest)
	if err != nil {
		return Claim{}, fmt.Errorf("payload names no valid manifest digest: %w", err)
	}
	return Claim{Reference: p.Critical.Identity.DockerReference, Digest: d, Annotations: p.Optional}, nil
}

// Sign signs payload and returns the signature base64-encoded, as it goes
// in the SignatureAnnotation.
func (s *Signer) Sign(payload []byte) (string, error) {
	sig, err := s.sv.SignMessage(bytes.NewReader(payload))
	if err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// Errors a verification can end with.
var (
	ErrNoSignature  = errors.New("the layer carries no signature annotation (" + SignatureAnnotation + ")")
	ErrBadEncoding  = errors.New("the signature annotation is not base64")
	ErrNoTrustedKey = errors.New("the signature does not verify with any of the keys given")
	ErrWrongDigest  = errors.New("the signature is for another manifest")
)

// Result is the outcome of checking one signature.
type Result struct {
	// KeyID is the key the signature verified with, "" if none.
	KeyID string
	// Claim is the payload's content when it could be read.
	Claim Claim
	// Verified is true when the signature verifies with a key and its
	// payload names the manifest it is attached to. Err says why not.
	Verified bool
	Err      error
}

// Verify checks that sigB64 is a signature of payload by one of keys and
// that payload names subject. A corrupt or foreign signature is never
// Verified.
func Verify(payload []byte, sigB64 string, subject digest.Digest, keys []*PublicKey) Result {
	var r Result
	if sigB64 == "" {
		r.Err = ErrNoSignature
		return r
	}
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil {
		r.Err = ErrBadEncoding
		return r
	}
	for _, k := range keys {
		if k.verifier.VerifySignature(bytes.NewReader(sig), bytes.NewReader(payload)) == nil {
			r.KeyID = k.ID
			break
		}
	}
	if r.KeyID == "" {
		r.Err = ErrNoTrustedKey
		return r
	}
	r.Claim, err = ParsePayload(payload)
	if err != nil {
		r.Err = err
		return r
	}
	if r.Claim.Digest != subject {
		r.Err = fmt.Errorf("%w: it names %s, it is attached to %s", ErrWrongDigest, r.Claim.Digest, subject)
		return r
	}
	r.Verified = true
	return r
}
