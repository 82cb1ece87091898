// The lru-cache recipe (README, "Library objects"): declared once, in every
// version. dump() lists entries from most to least recently used, with their
// TTL and size; load() restores them in that order. The cache's options
// (max, ttl, dispose…) are code, so the receiving version supplies its own.
import { LRUCache } from 'lru-cache'
import { registerType } from 'dsu'

export const OPTIONS = { max: 200 }

registerType('lru', {
  isApplicable: (v) => v instanceof LRUCache,
  serialize: (cache) => cache.dump(),
  deserialize: (entries) => {
    const cache = new LRUCache(OPTIONS)
    cache.load(entries)
    return cache
  },
})
