package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// errClosed is returned by a store after Close.
var errClosed = errors.New("store is closed")

// pingAfter is how long a connection may sit idle before it is pinged when
// it is taken again, to replace connections the server has dropped.
const pingAfter = time.Second

// pool is a small pool of pgx connections, at most cap(slots) open at once.
//
// It stands in for pgxpool (and pgx/stdlib, built on it), which need
// github.com/jackc/puddle/v2 and golang.org/x/sync in go.mod. The store only
// needs acquire and release, so switching to pgxpool later is local to this
// file and postgres.go.
type pool struct {
	config *pgx.ConnConfig
	slots  chan struct{} // one token per connection handed out or dialing

	mu     sync.Mutex
	idle   []idleConn
	closed bool
}

// idleConn is a connection waiting in the pool.
type idleConn struct {
	conn  *pgx.Conn
	since time.Time
}

// newPool returns an empty pool that opens at most size connections.
func newPool(config *pgx.ConnConfig, size int) *pool {
	return &pool{config: config, slots: make(chan struct{}, size)}
}

// acquire returns a connection, reusing an idle one or dialing a new one,
// waiting while size connections are in use.
func (p *pool) acquire(ctx context.Context) (*pgx.Conn, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			<-p.slots
			return nil, errClosed
		}
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		ic := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if ic.conn.IsClosed() {
			continue
		}
		if time.Since(ic.since) > pingAfter && ic.conn.Ping(ctx) != nil {
			closeConn(ic.conn)
			if ctx.Err() != nil {
				<-p.slots
				return nil, ctx.Err()
			}
			continue
		}
		return ic.conn, nil
	}
	c, err := pgx.ConnectConfig(ctx, p.config)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return c, nil
}

// release gives back a connection from acquire. Connections that are broken,
// inside a transaction or busy, or that come back after close, are closed.
func (p *pool) release(c *pgx.Conn) {
	p.mu.Lock()
	reuse := !p.closed && !c.IsClosed() && !c.PgConn().IsBusy() && c.PgConn().TxStatus() == 'I'
	if reuse {
		p.idle = append(p.idle, idleConn{conn: c, since: time.Now()})
	}
	p.mu.Unlock()
	if !reuse {
		closeConn(c)
	}
	<-p.slots
}

// with runs fn with a connection from the pool.
func (p *pool) with(ctx context.Context, fn func(c *pgx.Conn) error) error {
	c, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	defer p.release(c)
	return fn(c)
}

// close closes the idle connections and makes later acquires fail;
// connections in use are closed when they are released.
func (p *pool) close() error {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	var errs []error
	for _, ic := range idle {
		errs = append(errs, closeConn(ic.conn))
	}
	return errors.Join(errs...)
}

// closeConn closes c, giving the server a few seconds to hear about it.
func closeConn(c *pgx.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Close(ctx)
}
