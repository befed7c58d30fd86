package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
)

// ErrWrongPassword is returned when a private key does not decrypt with the
// password given.
var ErrWrongPassword = errors.New("the private key does not decrypt with this password; set COSIGN_PASSWORD to the password the key was made with")

// PublicKey is a key signatures are verified with.
type PublicKey struct {
	// ID is "sha256:" and the hex SHA-256 of the key's DER (PKIX) form:
	// `openssl pkey -pubin -outform DER | sha256sum` gives it too.
	ID string
	// Algorithm names the key type, e.g. "ecdsa-p256".
	Algorithm string
	// PEM is the key as read.
	PEM      []byte
	verifier signature.Verifier
}

// ParsePublicKey reads a PEM public key (cosign.pub).
func ParsePublicKey(pemBytes []byte) (*PublicKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("not a PEM public key: no PEM block found")
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("PEM block is %q, not \"PUBLIC KEY\"; give the public half of the pair (cosign.pub)", block.Type)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("reading public key: %w", err)
	}
	alg, err := algorithm(pub)
	if err != nil {
		return nil, err
	}
	// As cosign loads keys given with --key: the default hash for the key
	// type, ed25519 pre-hashed.
	v, err := signature.LoadDefaultVerifier(pub, options.WithED25519ph())
	if err != nil {
		return nil, fmt.Errorf("loading public key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return &PublicKey{ID: "sha256:" + hex.EncodeToString(sum[:]), Algorithm: alg, PEM: pemBytes, verifier: v}, nil
}

// LoadPublicKey reads a PEM public key file.
func LoadPublicKey(path string) (*PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading public key: %w", err)
	}
	k, err := ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	return k, nil
}

// Short is the key id shortened for messages.
func (k *PublicKey) Short() string { return shortKeyID(k.ID) }

func algorithm(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "ecdsa-" + map[int]string{256: "p256", 384: "p384", 521: "p521"}[k.Curve.Params().BitSize], nil
	case *rsa.PublicKey:
		return fmt.Sprintf("rsa-%d", k.N.BitLen()), nil
	case ed25519.PublicKey:
		return "ed25519", nil
	}
	return "", fmt.Errorf("unsupported public key type %T", pub)
}

// Signer signs payloads with a private key.
type Signer struct {
	sv signature.SignerVerifier
	// Key is the public half.
	Key *PublicKey
}

// ParsePrivateKey decrypts a cosign private key (cosign.key) with password.
func ParsePrivateKey(pemBytes, password []byte) (*Signer, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("not a PEM private key: no PEM block found")
	}
	switch block.Type {
	case cosign.SigstorePrivateKeyPemType, cosign.CosignPrivateKeyPemType:
	case "PUBLIC KEY":
		return nil, errors.New("this is a public key; signing needs the private half (cosign.key)")
	default:
		return nil, fmt.Errorf("PEM block is %q; give an encrypted cosign private key (cairn keygen or cosign generate-key-pair makes one)", block.Type)
	}
	sv, err := cosign.LoadPrivateKey(pemBytes, password, nil)
	if err != nil {
		if strings.Contains(err.Error(), "decryption failed") {
			return nil, ErrWrongPassword
		}
		return nil, fmt.Errorf("reading private key: %w", err)
	}
	pub, err := sv.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("reading private key: %w", err)
	}
	pemPub, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	key, err := ParsePublicKey(pemPub)
	if err != nil {
		return nil, err
	}
	return &Signer{sv: sv, Key: key}, nil
}

// LoadPrivateKey reads and decrypts a cosign private key file.
func LoadPrivateKey(path string, password []byte) (*Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading private key: %w", err)
	}
	s, err := ParsePrivateKey(b, password)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	return s, nil
}

// GenerateKeyPair makes an ECDSA P-256 pair in cosign's format: the private
// key PEM encrypted with password (scrypt and secretbox), the public key
// PEM.
func GenerateKeyPair(password []byte) (private, public []byte, err error) {
	kb, err := cosign.GenerateKeyPair(func(bool) ([]byte, error) { return password, nil })
	if err != nil {
		return nil, nil, fmt.Errorf("generating key pair: %w", err)
	}
	return kb.PrivateBytes, kb.PublicBytes, nil
}
