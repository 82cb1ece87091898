// lru v1: an lru-cache LRUCache root, carried through registerType.
import '../cache-codec.js'
import { serve } from '../server-common.js'

await serve(1)
