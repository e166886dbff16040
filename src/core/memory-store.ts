import { DurableStore } from './durable-store';
import { VolatileLog } from './durability';

/**
 * The store with nothing behind it: the same state, indexes and transactions as the durable
 * store, over a log that keeps nothing. For tests of the coordinator's rules.
 */
export class MemoryStore extends DurableStore {
  constructor() {
    super(new VolatileLog());
  }
}
