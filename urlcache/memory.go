package urlcache

import (
	"container/list"
	"time"
)

// memStore is the in-memory store: entries in least recently used order.
// Its owner (Cache) guards it with its mutex.
type memStore struct {
	capacity int64
	used     int64
	lru      list.List // of *memEntry, most recently used at the front
	byKey    map[string]*list.Element
}

type memEntry struct {
	key  string
	e    *entry
	body []byte
	size int64
}

func newMemStore(capacity int64) *memStore {
	return &memStore{capacity: capacity, byKey: map[string]*list.Element{}}
}

// get returns the entry for key and marks it used.
func (m *memStore) get(key string) *memEntry {
	el, ok := m.byKey[key]
	if !ok {
		return nil
	}
	m.lru.MoveToFront(el)
	return el.Value.(*memEntry)
}

// put stores an entry, replacing the key's earlier one, and evicts least
// recently used entries to stay within capacity. An entry larger than the
// capacity is not stored (and the earlier one is removed).
func (m *memStore) put(me *memEntry) {
	m.remove(me.key)
	if me.size > m.capacity {
		return
	}
	m.byKey[me.key] = m.lru.PushFront(me)
	m.used += me.size
	m.evict(m.capacity)
}

func (m *memStore) remove(key string) {
	if el, ok := m.byKey[key]; ok {
		m.drop(el)
	}
}

func (m *memStore) drop(el *list.Element) {
	me := el.Value.(*memEntry)
	m.lru.Remove(el)
	delete(m.byKey, me.key)
	m.used -= me.size
}

// evict removes least recently used entries until at most limit bytes are used.
func (m *memStore) evict(limit int64) {
	for m.used > limit {
		el := m.lru.Back()
		if el == nil {
			m.used = 0
			return
		}
		m.drop(el)
	}
}

func (m *memStore) removeSince(t time.Time) {
	for el := m.lru.Front(); el != nil; {
		next := el.Next()
		if !el.Value.(*memEntry).e.Stored.Before(t) {
			m.drop(el)
		}
		el = next
	}
}

func (m *memStore) removeAll() {
	m.lru.Init()
	clear(m.byKey)
	m.used = 0
}
