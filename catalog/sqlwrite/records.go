package sqlwrite

import (
	"context"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/sqlquery"
)

// SetVisibility records the visibility of manifests of repo, keeping
// their owners, in one transaction.
func (w *Writer) SetVisibility(ctx context.Context, repo string, ds []digest.Digest, vis catalog.Visibility) error {
	err := w.c.InTx(ctx, func(ctx context.Context, c Conn) error {
		for _, dgst := range ds {
			if err := w.lockManifest(ctx, c, repo, string(dgst)); err != nil {
				return fmt.Errorf("%s: %w", dgst, err)
			}
			if _, err := c.Exec(ctx, w.st(`INSERT INTO owners (repository, digest, owner, visibility) VALUES (?, ?, '', ?)
ON CONFLICT (repository, digest) DO UPDATE SET visibility = excluded.visibility`, repo, string(dgst), string(vis))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return w.errorf("set visibility in %s: %w", repo, err)
	}
	return nil
}

// SetSignatures replaces the signature records of repo@dgst.
func (w *Writer) SetSignatures(ctx context.Context, repo string, dgst digest.Digest, sigs []catalog.Signature) error {
	err := w.c.InTx(ctx, func(ctx context.Context, c Conn) error {
		if err := w.lockManifest(ctx, c, repo, string(dgst)); err != nil {
			return err
		}
		sts := []sqlquery.Statement{w.st(`DELETE FROM signatures WHERE repository = ? AND digest = ?`, repo, string(dgst))}
		for _, sg := range sigs {
			sts = append(sts, w.st(`INSERT INTO signatures (repository, digest, signature_digest, position, form, key_id, verified, signed_at, error)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, repo, string(dgst), string(sg.Manifest), sg.Position, sg.Form, sg.KeyID, sg.Verified, w.time(sg.SignedAt), sg.Error))
		}
		return c.ExecAll(ctx, sts)
	})
	if err != nil {
		return w.errorf("set signatures of %s@%s: %w", repo, dgst, err)
	}
	return nil
}

// SetSetting stores a setting.
func (w *Writer) SetSetting(ctx context.Context, key, value string) error {
	_, err := w.c.DB.Exec(ctx, w.st(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value))
	if err != nil {
		return w.errorf("set setting %s: %w", key, err)
	}
	return nil
}

// CreateToken stores a token.
func (w *Writer) CreateToken(ctx context.Context, t catalog.Token) error {
	_, err := w.c.DB.Exec(ctx, w.st(`INSERT INTO tokens (`+sqlquery.TokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.User, t.Scopes, t.Hash, w.time(t.CreatedAt), w.optionalTime(t.ExpiresAt), w.optionalTime(t.LastUsedAt), w.optionalTime(t.RevokedAt)))
	if err != nil {
		return w.errorf("create token: %w", err)
	}
	return nil
}

// RevokeToken marks a token revoked (the first revocation's time stays).
func (w *Writer) RevokeToken(ctx context.Context, id string, at time.Time) error {
	err := w.exec(ctx, w.st(`UPDATE tokens SET revoked_at = CASE WHEN revoked_at IS NOT DISTINCT FROM ? THEN ? ELSE revoked_at END WHERE id = ?`,
		w.c.Dialect.NoTime, w.time(at), id))
	if err != nil {
		return w.errorf("revoke token %s: %w", id, err)
	}
	return nil
}

// TouchToken records a use.
func (w *Writer) TouchToken(ctx context.Context, id string, at time.Time) error {
	if _, err := w.c.DB.Exec(ctx, w.st(`UPDATE tokens SET last_used_at = ? WHERE id = ?`, w.time(at), id)); err != nil {
		return w.errorf("touch token %s: %w", id, err)
	}
	return nil
}

// MarkPending records that repo is about to change and returns the mark's
// id. Ids are never reused.
func (w *Writer) MarkPending(ctx context.Context, repo string) (int64, error) {
	var id int64
	mark := func(ctx context.Context, c Conn) error {
		return c.Row(ctx, w.st(`INSERT INTO pending (repository, created_at) VALUES (?, ?) RETURNING id`, repo, w.time(time.Now())), &id)
	}
	var err error
	if w.c.MarkInTx {
		err = w.c.InTx(ctx, mark)
	} else {
		err = mark(ctx, w.c.DB)
	}
	if err != nil {
		return 0, w.errorf("mark %s pending: %w", repo, err)
	}
	return id, nil
}

// ClearPending removes one mark. Removing a mark that is gone is not an error.
func (w *Writer) ClearPending(ctx context.Context, id int64) error {
	if _, err := w.c.DB.Exec(ctx, w.st(`DELETE FROM pending WHERE id = ?`, id)); err != nil {
		return w.errorf("clear pending mark %d: %w", id, err)
	}
	return nil
}

// ClearPendingRepository removes every mark of repo.
func (w *Writer) ClearPendingRepository(ctx context.Context, repo string) error {
	if _, err := w.c.DB.Exec(ctx, w.st(`DELETE FROM pending WHERE repository = ?`, repo)); err != nil {
		return w.errorf("clear pending marks of %s: %w", repo, err)
	}
	return nil
}
