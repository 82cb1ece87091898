// lru v2: the same cache, received with exact contents and recency order.
import '../cache-codec.js'
import { serve } from '../server-common.js'

await serve(2)
