package registry

import "sync"

// keyedMutex serialises work per key. Manifest writes of one repository,
// its promotions and its repairs take it, so that the engine and the
// catalog see them in the same order. It orders work within one cairn
// process only.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	sync.Mutex
	waiters int
}

// lock takes the lock of key and returns its release.
func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.waiters++
	k.mu.Unlock()

	e.Lock()
	return func() {
		e.Unlock()
		k.mu.Lock()
		e.waiters--
		if e.waiters == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
