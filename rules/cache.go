package rules

import (
	"maps"
	"strings"
	"sync"
	"sync/atomic"
)

// Bounds of a renderCache. Resources come from request paths, so from
// clients: the cache must stop growing however many distinct ones they send,
// and must not keep long ones alive.
const (
	maxCachedActions = 1024
	maxCachedKeyLen  = 64
)

// renderCache remembers the actions a template rendered, by resource and
// method, so that rendering the same action again does not allocate.
//
// Reads are lock-free loads of an immutable map; a write copies the map under
// a mutex and publishes the copy. Writes are rare (once per new key, at most
// maxCachedActions of them in the life of the process, then never), so their
// O(n) copy is cheaper than making every read of the hot path take a lock.
type renderCache struct {
	actions atomic.Pointer[map[cacheKey]string]
	mu      sync.Mutex // serializes writers
}

type cacheKey struct {
	resource, method string
}

func newRenderCache() *renderCache {
	c := &renderCache{}
	c.actions.Store(&map[cacheKey]string{})
	return c
}

func (c *renderCache) get(resource, method string) (string, bool) {
	action, ok := (*c.actions.Load())[cacheKey{resource, method}]
	return action, ok
}

// put remembers action unless the cache is full or the key too long. The key
// is copied: resource and method may be substrings of a request's path and
// method, which the cache must not keep alive.
func (c *renderCache) put(resource, method, action string) {
	if len(resource) > maxCachedKeyLen || len(method) > maxCachedKeyLen {
		return
	}
	if len(*c.actions.Load()) >= maxCachedActions {
		return // checked before locking too: a full cache never contends
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.actions.Load()
	key := cacheKey{resource, method}
	if _, ok := old[key]; ok || len(old) >= maxCachedActions {
		return
	}
	actions := make(map[cacheKey]string, len(old)+1)
	maps.Copy(actions, old)
	actions[cacheKey{strings.Clone(resource), strings.Clone(method)}] = action
	c.actions.Store(&actions)
}
